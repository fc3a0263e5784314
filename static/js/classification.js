/* Classify page: P(class 1) over the plane with the points on top; loss; validation accuracy; norms. */
(function () {
  "use strict";
  const C = BP.colors;
  const BG_SCALE = [[0, "#93bbf9"], [0.3, "#d3e3fc"], [0.5, "#ffffff"], [0.7, "#fde3cc"], [1, "#fbb27a"]];

  function pyRound(x) { // Python's round (half to even), as the server splits validation points
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  }

  function pointsTrace(name, pts, labels, cls, symbol) {
    const x = [], y = [];
    pts.forEach((p, i) => { if (labels[i] === cls) { x.push(p[0]); y.push(p[1]); } });
    return { type: "scatter", mode: "markers", name: "class " + cls, x, y, legendgroup: "c" + cls, showlegend: symbol === "circle",
      marker: { color: cls ? C.class1 : C.class0, size: symbol === "circle" ? 7 : 8, symbol, line: { color: "#fff", width: 1.2 } },
      hovertemplate: name + "<br>(%{x:.2f}, %{y:.2f})<extra></extra>" };
  }

  /** Points with more than two features (spheres) are drawn by their first two, and the background is a slice
   *  through the cloud: the subtitle says so, with the values the other features are held at. */
  function sliceNote(ev) {
    const sub = document.querySelector("#chart-boundary-title + .sub");
    if (!sub.dataset.plain) sub.dataset.plain = sub.textContent;
    const held = (ev.slice || []).map((v, i) => "x" + "₃₄₅₆₇₈₉"[i] + " = " + BP.fmt.num(v, 2));
    sub.textContent = held.length ? ev.slice.length + 2 + " features: points drawn by x₁ and x₂; background: the slice at " +
      held.join(", ") + " (" + (held.length > 1 ? "their" : "its") + " training mean)" : sub.dataset.plain;
  }

  BP.views.register("boundary", () => {
    const bLayout = BP.layout({
      xaxis: { title: { text: "x₁" }, showgrid: false, zeroline: false },
      yaxis: { title: { text: "x₂" }, showgrid: false, zeroline: false },
      hovermode: "closest", margin: { l: 50, r: 34, t: 30, b: 42 },
      legend: { x: 0 },
    });
    // the probability map (base) changes per snapshot; the points (overlay, on top) are drawn once per run
    const board = new BP.Layered("chart-boundary", "chart-points", bLayout);
    board.overlayLegend = true;
    let data = null, grid = null, rev = 0, step = 0;
    BP.boundary = { board, layout: bLayout, pointsTrace }; // (click_points.js draws on it)

    function drawPoints() {
      if (!data) return;
      const nVal = Math.max(1, pyRound(data.points.length * data.config.val_fraction));
      // at most 900 training and 300 validation points are drawn (up to 20000 would slow every redraw)
      const nv = Math.min(nVal, 300), nt = Math.min(data.points.length - nVal, 900);
      const val = BP.thin(data.points.slice(0, nVal), nv), valL = BP.thin(data.labels.slice(0, nVal), nv);
      const tr = BP.thin(data.points.slice(nVal), nt), trL = BP.thin(data.labels.slice(nVal), nt);
      board.drawOverlay([pointsTrace("class 0 (training)", tr, trL, 0, "circle"), pointsTrace("class 1 (training)", tr, trL, 1, "circle"),
        pointsTrace("class 0 (validation)", val, valL, 0, "diamond"), pointsTrace("class 1 (validation)", val, valL, 1, "diamond")]);
    }

    function drawBoundary() {
      if (!data) return;
      const traces = [];
      if (grid) {
        traces.push({ type: "heatmap", x: data.xs, y: data.ys, z: grid, zmin: 0, zmax: 1, colorscale: BG_SCALE, zsmooth: "fast",
          showscale: true, showlegend: false,
          colorbar: { thickness: 10, len: 0.75, y: 0, yanchor: "bottom", outlinewidth: 0, tickformat: ".0%", tickfont: { size: 10.5 }, title: { text: "P(orange)", side: "right", font: { size: 11 } } },
          hovertemplate: "(%{x:.2f}, %{y:.2f})<br>P(orange) %{z:.2f}<extra></extra>" });
        traces.push({ type: "contour", x: data.xs, y: data.ys, z: grid, showscale: false, showlegend: false, hoverinfo: "skip",
          contours: { start: 0.5, end: 0.5, size: 1, coloring: "none" }, line: { color: "#0f172a", width: 2 } });
      } else {
        traces.push({ type: "scatter", x: [null], y: [null], showlegend: false, hoverinfo: "skip" });
      }
      board.drawBase(traces);
      if (grid) {
        const cells = grid.flat(), orange = cells.filter((p) => p >= 0.5).length / cells.length;
        BP.describe("chart-boundary", "Decision boundary at step " + BP.fmt.int(step) + " (" + data.config.dataset +
          "): the network calls " + BP.fmt.pct(orange, 0) + " of the plane orange (class 1), the rest blue.");
      }
    }
    const request = () => BP.render.request("boundary", drawBoundary);

    return {
      reset() {
        data = null;
        grid = null;
      },
      dataset(run, ev) {
        data = ev;
        grid = null;
        sliceNote(ev);
        bLayout.uirevision = ++rev;
        const xs = ev.xs, ys = ev.ys;
        bLayout.xaxis = BP.merge(bLayout.xaxis, { range: [xs[0], xs[xs.length - 1]], autorange: false });
        bLayout.yaxis = BP.merge(bLayout.yaxis, { range: [ys[0], ys[ys.length - 1]], autorange: false });
        board.drawOverlay([]);
        BP.render.request("points", drawPoints);
        request();
      },
      snapshot(run, ev) {
        grid = ev.p_grid;
        step = ev.step;
        request();
      },
    };
  });

  BP.views.register("loss", () => BP.lossView("chart-loss", "cross-entropy"));
  BP.views.register("accuracy", () => {
    const acc = new BP.SeriesChart("chart-acc", {
      layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "accuracy" }, tickformat: ".0%", range: [0, 1.02], autorange: false },
        hovermode: "x unified", showlegend: false, margin: { t: 12 } },
    });
    return {
      reset() {
        acc.reset([{ name: "validation accuracy", line: { color: C.val, width: 1.8 }, hovertemplate: "validation accuracy %{y:.1%}<extra></extra>" }]);
      },
      dataset(run, ev) {
        if (ev.baseline) acc.level(ev.baseline.accuracy, "chance " + BP.fmt.pct(ev.baseline.accuracy, 0));
      },
      steps(run, ev) {
        if (ev.val_acc) acc.push(0, ev.step, ev.val_acc);
      },
    };
  });
  BP.views.register("norms", () => BP.normsView(new BP.NormsChart("chart-norms")));
})();
