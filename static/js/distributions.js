/* Distributions over time per layer (the job's `dists` events, sampled every k steps; the history brings the
 * earlier ones): for the quantity chosen (gradients, weights or activations), each layer's spread, from its 5th
 * to its 95th percentile, on a log scale: a gradient that vanishes layer by layer back is a ladder of lines an
 * order of magnitude apart. The line below names each layer's share of dead ReLUs and saturated sigmoid/tanh
 * units at the latest sample.
 */
(function () {
  "use strict";
  const $ = BP.$, num = BP.xray.num;
  const MAX_DRAWN = 200, MAX_MARKED = 40; // samples drawn at most; with markers up to MAX_MARKED
  const KINDS = { grad: "gradients", weight: "weights", activation: "activations" };

  BP.views.register("distributions", () => {
    const el = $("#chart-dists");
    if (!el) return {};
    let samples = [], kind = "grad";
    const pick = $("#dists-kind");
    pick.addEventListener("change", () => { kind = pick.value; request(); });
    const shares = document.createElement("p");
    shares.className = "dists-shares";
    el.closest(".chart-card").appendChild(shares);

    function spread(p) {
      return Array.isArray(p) && p.length >= 5 ? p[4] - p[0] : NaN;
    }

    function draw() {
      if (!samples.length) return;
      const names = samples[samples.length - 1].layers.map((l) => l.name);
      // at most MAX_DRAWN samples are drawn, evenly spread, the latest always (every one is kept)
      const shown = BP.thin(samples.slice(0, -1), MAX_DRAWN - 1).concat(samples.slice(-1));
      const traces = names.map((name, i) => ({
        type: "scatter", mode: shown.length > MAX_MARKED ? "lines" : "lines+markers", name: BP.layerName(name), line: { color: BP.layerColor(i, names.length), width: 2.5 },
        x: shown.map((s) => s.step),
        y: shown.map((s) => { const l = s.layers.find((m) => m.name === name); return l ? spread(l[kind]) : null; }),
        hovertemplate: BP.layerName(name) + ": 5-95 % spread %{y:.3g} at step %{x}<extra></extra>",
      }));
      BP.react(el, traces, BP.layout({ xaxis: { title: { text: "step" } },
        yaxis: { title: { text: "spread of the " + KINDS[kind] }, type: "log", exponentformat: "power" } }));
      BP.markData(el);
      const last = samples[samples.length - 1];
      const parts = last.layers.map((l) => BP.layerName(l.name) + " " + num(spread(l[kind])));
      BP.describe(el, "Spread (5th to 95th percentile) of the " + KINDS[kind] + " per layer at step " + last.step + ": " + parts.join(", ") + ".");
      const notes = last.layers.filter((l) => BP.finite(l.dead) || BP.finite(l.saturated)).map((l) => BP.layerName(l.name) + ": " +
        [BP.finite(l.dead) ? BP.fmt.pct(l.dead, 0) + " dead ReLUs" : "", BP.finite(l.saturated) ? BP.fmt.pct(l.saturated, 0) + " saturated" : ""]
          .filter(Boolean).join(", "));
      shares.textContent = notes.length ? "At step " + last.step + ": " + notes.join("; ") + "." : "";
    }
    const request = () => BP.render.request("dists", draw);

    return {
      reset() {
        samples = [];
        shares.textContent = "";
      },
      dists(run, ev) {
        if (run !== 0 || !Array.isArray(ev.layers)) return;
        samples.push(ev);
        request();
      },
    };
  });
})();
