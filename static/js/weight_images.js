/* Weights and gradients as pictures, for any size of network (inside the X-ray panel, #xray-images): per weight
 * layer a heatmap of W and one of dL/dW (rows: the layer's units, columns: its inputs; orange positive, blue
 * negative). A small network's come from its X-ray's own arrays (W before the step, the gradient it got); a big
 * one's from the X-ray's summary pictures (docs/xray.md: W after the step and dL/dW, strided to at most 64x64,
 * every value one the network holds), and for MNIST the first layer's weights as 28x28 tiles, for the CNN each
 * conv layer's filters and one digit's feature maps.
 */
(function () {
  "use strict";
  const $ = BP.$, num = BP.xray.num;

  function figure(parent, title, rows, cls) {
    const fig = document.createElement("figure");
    fig.className = "weight-pic " + (cls || "");
    const c = document.createElement("canvas");
    c.setAttribute("aria-hidden", "true");
    const [lo, hi] = BP.heatmap(c, rows);
    fig.appendChild(c);
    const cap = document.createElement("figcaption");
    cap.textContent = title + " (" + rows.length + "×" + (rows[0] ? rows[0].length : 0) + "): " + num(lo) + " to " + num(hi);
    fig.appendChild(cap);
    parent.appendChild(fig);
    return fig;
  }

  /** A set of small pictures (tiles, filters, feature maps), each its own canvas, under one caption. */
  function gallery(parent, title, maps, cls) {
    const fig = document.createElement("figure");
    fig.className = "weight-gallery";
    const grid = document.createElement("div");
    grid.className = "gallery-grid " + (cls || "");
    for (const m of maps) {
      const c = document.createElement("canvas");
      c.setAttribute("aria-hidden", "true");
      BP.heatmap(c, m);
      grid.appendChild(c);
    }
    fig.appendChild(grid);
    const cap = document.createElement("figcaption");
    cap.textContent = title + " (" + maps.length + ")";
    fig.appendChild(cap);
    parent.appendChild(fig);
  }

  const as2d = (a) => (Array.isArray(a) && !Array.isArray(a[0]) ? [a] : a);

  function draw(xr) {
    const box = $("#xray-images");
    if (!box) return;
    box.textContent = "";
    if (!xr || !Array.isArray(xr.layers)) return;
    for (const layer of xr.layers) {
      const p = layer.params && layer.params.weight, im = layer.images;
      if (!p && !im) continue;
      const row = document.createElement("div");
      row.className = "weights-row";
      const h = document.createElement("h4");
      h.textContent = BP.layerName(layer.name);
      row.appendChild(h);
      if (!xr.summary && p && Array.isArray(p.before) && Array.isArray(p.before[0])) {
        figure(row, "W before this step", p.before);
        if (Array.isArray(p.grad)) figure(row, "dL/dW", p.grad, "grad");
      } else if (im) {
        if (im.weight) figure(row, "W after this step", as2d(im.weight));
        if (im.grad) figure(row, "dL/dW", as2d(im.grad), "grad");
        if (im.tiles) gallery(row, "the first units' weights as 28×28 images", im.tiles, "large");
        if (im.filters) gallery(row, "filters (averaged over input channels)", im.filters);
        if (im.feature_maps) gallery(row, "feature maps of the batch's first digit", im.feature_maps, "large");
      } else continue;
      box.appendChild(row);
    }
  }

  BP.views.register("weight-images", () => {
    BP.xray.listen(draw);
    return {};
  });
})();
