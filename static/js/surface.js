/* 2-D surface page: the network's surface over the target's wireframe (3-D), the error map, loss, norms. */
(function () {
  "use strict";
  const webgl = !!window.WebGLRenderingContext; // (creating a test context would cost a context and a warning)
  const SURFACE_SCALE = [[0, "#312e81"], [0.25, "#2563eb"], [0.5, "#14b8a6"], [0.75, "#a3e635"], [1, "#facc15"]];
  const ERROR_SCALE = [[0, "#b91c1c"], [0.25, "#f87171"], [0.5, "#ffffff"], [0.75, "#60a5fa"], [1, "#1d4ed8"]];
  const axis3 = (t) => ({ title: { text: t }, backgroundcolor: "#f8fafc", gridcolor: "#e2e8f0", showbackground: true, zerolinecolor: "#cbd5e1" });

  // The 3-D view costs hundreds of ms per redraw with software WebGL: its redraws are kept SPACING times their
  // own cost apart, the WebGL frame after each included (at most ~1/SPACING of the page's time; on a computer
  // with a GPU the surface still moves several times a second), and the grid is drawn as it is (asIs).
  const SPACING = 6;
  const draw3d = (fn) => BP.render.request("surface", fn, { spacing: SPACING, settle: true });

  /** Plotly (7.1) interpolates a surface of n points a side to ~120-240 a side before drawing it, for smoother
   *  shading and contours: 15,000-60,000 vertices instead of the grid's 1,600, most of each frame's cost in
   *  software WebGL. Each surface of the chart is redrawn from its own grid points instead (a private flag of
   *  the pinned Plotly, read only if present; its hover then maps back with a scale of 1). */
  function asIs(el) {
    const scene = el._fullLayout && el._fullLayout.scene && el._fullLayout.scene._scene;
    for (const t of Object.values((scene && scene.traces) || {})) {
      if (t.refineData !== true || typeof t.update !== "function" || !t.data) continue;
      t.refineData = false;
      t.dataScaleX = t.dataScaleY = 1;
      t.update(t.data);
    }
  }

  function zRange(z) {
    let lo = Infinity, hi = -Infinity;
    for (const row of z) for (const v of row) if (BP.finite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) return [-1, 1];
    const pad = Math.max((hi - lo) * 0.2, 1e-3);
    return [lo - pad, hi + pad];
  }

  BP.views.register("surface", (page) => {
    const surfLayout = BP.layout({
      margin: { l: 0, r: 0, t: 26, b: 0 }, legend: { x: 0, y: 1 },
      scene: { xaxis: axis3("x"), yaxis: axis3("y"), zaxis: axis3("z"), aspectmode: "manual",
        aspectratio: { x: 1, y: 1, z: 0.65 }, camera: { eye: { x: 1.2, y: -1.3, z: 0.8 } }, domain: { x: [0, 1], y: [0, 1] } },
    });
    const errLayout = BP.layout({
      xaxis: { title: { text: "x" } }, yaxis: { title: { text: "y" } }, margin: { l: 50, r: 34, t: 30, b: 42 },
    });
    const surfEl = BP.plot("chart-surface", [], surfLayout);
    // the user's camera wins: every redraw passes the camera the user last left (a drag, a zoom), and no
    // redraw happens while a drag is under way (it would snap the view back mid-gesture)
    let dragging = false, dirty = false;
    surfEl.on("plotly_relayout", (ev) => {
      if (ev && ev["scene.camera"]) surfLayout.scene.camera = JSON.parse(JSON.stringify(ev["scene.camera"]));
    });
    surfEl.addEventListener("pointerdown", () => (dragging = true));
    window.addEventListener("pointerup", () => {
      if (!dragging) return;
      dragging = false;
      keepCamera();
      if (dirty) draw3d(drawSurface);
    });
    function keepCamera() {
      const scene = surfEl._fullLayout && surfEl._fullLayout.scene && surfEl._fullLayout.scene._scene;
      const cam = scene && scene.getCamera ? scene.getCamera() : null;
      if (cam && cam.eye) surfLayout.scene.camera = JSON.parse(JSON.stringify(cam));
    }
    if (webgl) BP.idle(warmUp);
    const errEl = BP.plot("chart-error", [], errLayout);
    let data = null, pred = null, zr = [0, 1], rev = 0, step = 0, lastPoints = null;
    if (!webgl) {
      document.querySelector("#chart-surface").closest(".chart-card").querySelector(".sub").textContent =
        "this browser has no WebGL: showing the prediction as a map instead of in 3-D";
    }

    /** The first 3-D drawing creates the WebGL scene and compiles its shaders, and each new axis label is made
     *  into geometry: seconds with software WebGL (no GPU). Done once while the page is idle after loading, with
     *  a tiny flat grid of both kinds of surface (wireframe and shaded, both faint) under the chart's "press
     *  Start" note, over the form's x and y ranges (their tick labels then ready), so that Start does not freeze
     *  the page. */
    function warmUp() {
      if (data) return;
      const c = (page && page.form && page.form.values()) || {};
      const span = (lo, hi) => (BP.finite(lo) && BP.finite(hi) && lo < hi ? [lo, hi] : [-2, 2]);
      const flat = { x: span(c.x_min, c.x_max), y: span(c.y_min, c.y_max), z: [[0, 0], [0, 0]], showscale: false,
        hoverinfo: "skip", showlegend: false };
      Plotly.react(surfEl, [
        Object.assign({ type: "surface", hidesurface: true, contours: { x: { show: true, color: "#e2e8f0" } } }, flat),
        Object.assign({ type: "surface", colorscale: [[0, "#f1f5f9"], [1, "#f1f5f9"]], opacity: 0.93 }, flat), // (faint)
      ], surfLayout, BP.plotConfig);
      asIs(surfEl);
    }

    function drawSurface() {
      if (!data) return;
      if (dragging) {
        dirty = true; // drawn when the drag ends
        return;
      }
      dirty = false;
      keepCamera();
      const xs = data.xs, ys = data.ys, cfg = data.config;
      const hov = "x %{x:.2f}, y %{y:.2f}<br>";
      let traces;
      if (webgl && !data.z_true) { // one's own points: the points, and the network's surface
        const pts = data.train_points;
        traces = [{ type: "scatter3d", mode: "markers", name: "training points", x: pts.map((p) => p[0]), y: pts.map((p) => p[1]),
          z: pts.map((p) => p[2]), marker: { size: 2.5, color: "#334155" }, hovertemplate: hov + "z %{z:.3f}<extra></extra>" }];
        if (pred) {
          traces.push({ type: "surface", name: "network", x: xs, y: ys, z: pred, colorscale: SURFACE_SCALE,
            cmin: zr[0], cmax: zr[1], opacity: 0.85, showscale: false, showlegend: true,
            hovertemplate: hov + "network %{z:.3f}<extra></extra>" });
        }
      } else if (webgl) {
        const sx = (cfg.x_max - cfg.x_min) / 16, sy = (cfg.y_max - cfg.y_min) / 16;
        traces = [
          { type: "surface", name: "target", x: xs, y: ys, z: data.z_true, hidesurface: true, showscale: false, opacity: 1,
            contours: {
              x: { show: true, start: cfg.x_min, end: cfg.x_max, size: sx, color: "#64748b", width: 1 },
              y: { show: true, start: cfg.y_min, end: cfg.y_max, size: sy, color: "#64748b", width: 1 },
            }, hoverinfo: "skip", showlegend: true },
        ];
        if (pred) {
          traces.push({ type: "surface", name: "network", x: xs, y: ys, z: pred, colorscale: SURFACE_SCALE,
            cmin: zr[0], cmax: zr[1], opacity: 0.93, showscale: false, showlegend: true,
            lighting: { ambient: 0.75, diffuse: 0.6, specular: 0.08, roughness: 0.9 },
            hovertemplate: hov + "network %{z:.3f}<extra></extra>" });
        }
      } else {
        traces = [{ type: "heatmap", x: xs, y: ys, z: pred || data.z_true || [[null]], colorscale: SURFACE_SCALE, zmin: zr[0], zmax: zr[1],
          zsmooth: "fast", hovertemplate: hov + "%{z:.3f}<extra></extra>" }];
      }
      BP.react(surfEl, traces, surfLayout);
      if (webgl) asIs(surfEl);
    }

    /** One's own points: the network's error at each training point shown (no target surface to compare). */
    function drawPointError() {
      const pts = data.train_points, zp = lastPoints || [];
      const err = pts.map((p, i) => (BP.finite(zp[i]) ? zp[i] - p[2] : null));
      const m = Math.max(1e-6, ...err.filter((v) => v !== null).map(Math.abs));
      const mean = err.filter((v) => v !== null).reduce((a, v) => a + Math.abs(v), 0) / Math.max(1, err.filter((v) => v !== null).length);
      const text = "At step " + BP.fmt.int(step) + " the network is off your points by " + BP.fmt.num(mean) + " on average, by " + BP.fmt.num(m) + " at most.";
      BP.describe("chart-surface", "Prediction and your points: " + text);
      BP.describe("chart-error", "Error at your points: " + text);
      BP.react(errEl, [{ type: "scatter", mode: "markers", x: pts.map((p) => p[0]), y: pts.map((p) => p[1]), showlegend: false,
        marker: { color: err, colorscale: ERROR_SCALE, cmid: 0, cmin: -m, cmax: m, size: 7, showscale: true,
          colorbar: { thickness: 12, len: 0.8, y: 0, yanchor: "bottom", outlinewidth: 0, tickfont: { size: 11 }, title: { text: "error", side: "right" } } },
        text: err.map((v) => (v === null ? "" : v.toFixed(3))), hovertemplate: "x %{x:.2f}, y %{y:.2f}<br>error %{text}<extra></extra>" }], errLayout);
    }

    function drawError() {
      if (!data.z_true) return drawPointError();
      const err = pred.map((row, i) => row.map((v, j) => (BP.finite(v) && BP.finite(data.z_true[i][j]) ? v - data.z_true[i][j] : null)));
      let m = 0;
      for (const row of err) for (const v of row) if (v !== null) m = Math.max(m, Math.abs(v));
      m = Math.max(m, 0.05 * (zr[1] - zr[0]), 1e-6);
      const mean = err.flat().filter((v) => v !== null).reduce((a, v) => a + Math.abs(v), 0) / Math.max(1, err.flat().filter((v) => v !== null).length);
      const text = "At step " + BP.fmt.int(step) + " the network's surface is off the target " + data.config.formula +
        " by " + BP.fmt.num(mean) + " on average, by " + BP.fmt.num(m) + " at most.";
      BP.describe("chart-surface", "Prediction and target: " + text);
      BP.describe("chart-error", "Error map: " + text);
      BP.react(errEl, [{
        type: "heatmap", x: data.xs, y: data.ys, z: err, colorscale: ERROR_SCALE, zmid: 0, zmin: -m, zmax: m, zsmooth: "fast",
        colorbar: { thickness: 12, len: 0.8, y: 0, yanchor: "bottom", outlinewidth: 0, tickfont: { size: 11 }, title: { text: "error", side: "right" } },
        hovertemplate: "x %{x:.2f}, y %{y:.2f}<br>error %{z:.3f}<extra></extra>",
      }], errLayout);
    }

    return {
      reset() {
        data = null;
        pred = null;
      },
      dataset(run, ev) {
        data = ev;
        pred = null;
        const r = zRange(ev.z_true || [ev.train_points.map((p) => p[2])]);
        zr = [r[0], r[1]];
        surfLayout.uirevision = ++rev;
        errLayout.uirevision = rev;
        surfLayout.scene.zaxis = BP.merge(surfLayout.scene.zaxis, { range: zr, autorange: false });
        draw3d(drawSurface);
      },
      snapshot(run, ev) {
        pred = ev.z_pred;
        lastPoints = ev.z_points || null;
        step = ev.step;
        draw3d(drawSurface);
        BP.render.request("surface-error", () => data && pred && drawError());
      },
    };
  });

  BP.views.register("loss", () => BP.lossView("chart-loss", "loss (MSE)"));
  BP.views.register("norms", () => BP.normsView(new BP.NormsChart("chart-norms")));
})();
