/* A 2-D array as a heatmap on a canvas, one pixel per value (CSS scales it up, pixelated): orange positive,
 * blue negative, white 0 (scaled by the largest |value|); or, for arrays never negative, white at their lowest
 * value to orange at their highest. Used by the units' pictures and the weight pictures.
 *   BP.heatmap(canvas, rows, {flipY}) -> [lo, hi], the range of the values drawn
 */
(function () {
  "use strict";
  const POS = [234, 88, 12], NEG = [37, 99, 235];

  BP.heatmap = function (canvas, rows, opts) {
    const flipY = !!(opts && opts.flipY), ny = rows.length, nx = ny ? rows[0].length : 0;
    let lo = Infinity, hi = -Infinity;
    for (const r of rows) for (const v of r) if (isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) lo = hi = 0;
    const signed = lo < 0, base = signed ? 0 : lo, scale = (signed ? Math.max(-lo, hi) : hi - lo) || 1;
    canvas.width = Math.max(1, nx);
    canvas.height = Math.max(1, ny);
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(canvas.width, canvas.height);
    for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
      const raw = rows[y][x], o = ((flipY ? ny - 1 - y : y) * nx + x) * 4;
      const v = isFinite(raw) ? (raw - base) / scale : 0, t = Math.min(1, Math.abs(v)), c = v >= 0 ? POS : NEG;
      img.data[o] = 255 + (c[0] - 255) * t;
      img.data[o + 1] = 255 + (c[1] - 255) * t;
      img.data[o + 2] = 255 + (c[2] - 255) * t;
      img.data[o + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return [lo, hi];
  };
})();
