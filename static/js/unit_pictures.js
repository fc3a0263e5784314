/* Each hidden unit's own picture (the X-ray's "units": every hidden activation over the task's input grid, as
 * the network computed it after the step): for a 1-D task each unit's activation as a function of x, the pieces
 * the fit is summed from; for 2-D inputs a small heatmap of each unit over the input plane (orange positive,
 * blue negative, white 0, or white to orange for units never negative; the spheres' third feature at its mean).
 */
(function () {
  "use strict";
  const $ = BP.$, num = BP.xray.num;
  const W = 132, H = 84;

  function range(vals) {
    let lo = Infinity, hi = -Infinity;
    for (const v of vals) if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return isFinite(lo) ? [lo, hi] : [0, 0];
  }

  /** A unit's activation over x: an SVG line, with its range written below. */
  function line(xs, vals) {
    const [lo, hi] = range(vals), [x0, x1] = range(xs), span = hi - lo || 1;
    const pts = vals.map((v, k) => ((xs[k] - x0) / (x1 - x0 || 1) * (W - 4) + 2).toFixed(1) + "," +
      (H - 4 - ((v - lo) / span) * (H - 8)).toFixed(1)).join(" ");
    const zero = lo < 0 && hi > 0 ? '<line x1="0" x2="' + W + '" y1="' + (H - 4 - (-lo / span) * (H - 8)).toFixed(1) +
      '" y2="' + (H - 4 - (-lo / span) * (H - 8)).toFixed(1) + '" class="unit-zero"/>' : "";
    return '<svg viewBox="0 0 ' + W + " " + H + '" class="unit-plot" aria-hidden="true">' + zero +
      '<polyline points="' + pts + '" class="unit-line"/></svg>';
  }

  function draw(xr) {
    const box = $("#units-grid");
    if (!box) return;
    const u = xr && xr.units;
    if (!u || !u.layers || !u.layers.length || !u.grid) {
      box.innerHTML = '<p class="empty">' + (xr && xr.summary ? "Too many units to draw one by one." : "Step once to see them.") + "</p>";
      return;
    }
    box.textContent = "";
    const oneD = Array.isArray(u.grid.x), nx = oneD ? 0 : u.grid.xs.length, ny = oneD ? 0 : u.grid.ys.length;
    $("#units-sub").textContent = oneD ? "each unit's activation as a function of x (after step " + xr.step + "): the pieces the fit is summed from"
      : "each unit's activation over the input plane (after step " + xr.step + "): orange positive, blue negative";
    u.layers.forEach((layer, li) => {
      const row = document.createElement("div");
      row.className = "units-row";
      const h = document.createElement("h3");
      h.textContent = BP.layerName(layer.name) + " (" + layer.values.length + " units)";
      row.appendChild(h);
      layer.values.forEach((vals, j) => {
        const fig = document.createElement("figure");
        fig.className = "unit-pic";
        const flat = Array.isArray(vals[0]) ? [].concat(...vals) : vals, [lo, hi] = range(flat);
        const what = "unit " + (li + 1) + "," + (j + 1) + ": from " + num(lo) + " to " + num(hi);
        if (oneD) fig.innerHTML = line(u.grid.x, vals);
        else {
          const c = document.createElement("canvas");
          c.className = "unit-plot";
          // rows follow ys (a flat list: row-major), the top row the largest y
          const rows = Array.isArray(vals[0]) ? vals : Array.from({ length: ny }, (_, iy) => vals.slice(iy * nx, (iy + 1) * nx));
          BP.heatmap(c, rows, { flipY: true });
          c.setAttribute("aria-hidden", "true");
          fig.appendChild(c);
        }
        const cap = document.createElement("figcaption");
        cap.textContent = what;
        fig.appendChild(cap);
        row.appendChild(fig);
      });
      box.appendChild(row);
    });
  }

  BP.views.register("unit-pictures", () => {
    BP.xray.listen(draw);
    return {};
  });
})();
