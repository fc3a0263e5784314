/* 1-D function page: the target, the samples and the network's curve; loss; gradient norms per layer. */
(function () {
  "use strict";
  const C = BP.colors;

  function yRange(d) {
    let lo = Infinity, hi = -Infinity;
    for (const arr of [d.y_grid || [], d.y_train, d.y_val]) for (const v of arr) if (BP.finite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) return [-1, 1];
    const pad = Math.max((hi - lo) * 0.12, 1e-3 * Math.max(1, Math.abs(hi)));
    return [lo - pad, hi + pad];
  }

  function meanSquare(a, b) {
    let s = 0, n = 0;
    a.forEach((v, i) => { if (BP.finite(v) && BP.finite(b[i])) { s += (v - b[i]) ** 2; n++; } });
    return n ? s / n : NaN;
  }

  BP.views.register("fit", () => {
    const fitLayout = BP.layout({
      xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } }, hovermode: "closest",
      margin: { l: 56, r: 34, t: 30, b: 42 },
    });
    // the points and the target are drawn once per run; only the network's curve (an overlay) per snapshot
    const fit = new BP.Layered("chart-fit", "chart-fit-net", fitLayout);
    let data = null, pred = null, rev = 0, step = 0;

    function drawBase() {
      if (!data) return;
      const formula = data.config.formula;
      const nt = Math.min(data.x_train.length, 600), nv = Math.min(data.x_val.length, 300); // drawn, not all of 20000
      // one's own data has no target curve: only its points
      const target = data.y_grid ? [{ type: "scatter", mode: "lines", name: "target " + formula, x: data.x_grid, y: data.y_grid,
        line: { color: C.target, width: 2.5 }, hovertemplate: "x %{x:.3f}<br>target %{y:.4g}<extra></extra>" }] : [];
      fit.drawBase(target.concat([
        { type: "scatter", mode: "markers", name: "training points", x: BP.thin(data.x_train, nt), y: BP.thin(data.y_train, nt),
          marker: { color: C.train, size: 5, opacity: 0.6 }, hovertemplate: "training point<br>x %{x:.3f}, y %{y:.4g}<extra></extra>" },
        { type: "scatter", mode: "markers", name: "validation points", x: BP.thin(data.x_val, nv), y: BP.thin(data.y_val, nv),
          marker: { color: "#fff", size: 6, line: { color: C.val, width: 1.6 } },
          hovertemplate: "validation point<br>x %{x:.3f}, y %{y:.4g}<extra></extra>" },
        { type: "scatter", mode: "lines", name: "network", x: [null], y: [null], line: { color: C.model, width: 3 },
          hoverinfo: "skip" }, // its legend entry: the curve itself is the overlay
      ]));
    }
    function drawFit() {
      if (!data) return;
      fit.drawOverlay([{ type: "scatter", mode: "lines", name: "network", x: data.x_grid, y: pred || [],
        line: { color: C.model, width: 3 } }]);
      const own = data.config.data;
      const domain = (own ? "your data " + own.name : "target " + data.config.formula) + " on x from " +
        BP.fmt.num(data.config.x_min) + " to " + BP.fmt.num(data.config.x_max);
      BP.describe("chart-fit", pred ? "The network's fit at step " + BP.fmt.int(step) + ": " + domain + (own ? "." :
        ", mean squared distance of its curve from the target " + BP.fmt.num(meanSquare(pred, data.y_grid)) + ".")
        : "The network's fit: " + domain + "; the network's curve appears once it trains.");
    }
    const requestFit = () => BP.render.request("fit", drawFit);

    return {
      reset() {
        data = null;
        pred = null;
        fit.drawOverlay([]);
      },
      dataset(run, ev) {
        data = ev;
        pred = null;
        fitLayout.uirevision = ++rev;
        fitLayout.xaxis = BP.merge(fitLayout.xaxis, { range: [ev.config.x_min, ev.config.x_max], autorange: false });
        fitLayout.yaxis = BP.merge(fitLayout.yaxis, { range: yRange(ev), autorange: false });
        BP.render.request("fit-base", drawBase);
        requestFit();
      },
      snapshot(run, ev) {
        pred = ev.y_pred;
        step = ev.step;
        requestFit();
      },
    };
  });

  BP.views.register("loss", () => BP.lossView("chart-loss", "loss (MSE)"));
  BP.views.register("norms", () => BP.normsView(new BP.NormsChart("chart-norms")));
})();
