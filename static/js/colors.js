/* Colours: one meaning, one colour, on every page (training blue, validation orange, the network purple...). */
(function () {
  "use strict";

  BP.colors = {
    train: "#2563eb", val: "#f97316", target: "#94a3b8", model: "#7c3aed", acc: "#16a34a",
    class0: "#2563eb", class1: "#f97316", lr: "#a855f7",
  };
  BP.runColors = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"];
  BP.runColor = (i) => BP.runColors[i % BP.runColors.length];

  const LAYER_STOPS = [[49, 46, 129], [37, 99, 235], [13, 148, 136], [101, 163, 13], [217, 119, 6], [220, 38, 38]];
  /** Colour of layer i of n: first layers dark blue, last layers red, so depth reads at a glance. */
  BP.layerColor = function (i, n) {
    const t = n <= 1 ? 0.35 : i / (n - 1);
    const x = t * (LAYER_STOPS.length - 1), k = Math.min(Math.floor(x), LAYER_STOPS.length - 2), f = x - k;
    const c = LAYER_STOPS[k].map((a, j) => Math.round(a + f * (LAYER_STOPS[k + 1][j] - a)));
    return "rgb(" + c.join(",") + ")";
  };
  /** A layer's display name: "Linear 2" reads "Dense 2", "Conv2d 1" reads "Conv 1". */
  BP.layerName = (n) => n.replace("Linear", "Dense").replace("Conv2d", "Conv");
})();
