/* The gradient-norm chart: one trace per weight layer, log scale, zero norms drawn as gaps (and said). */
(function () {
  "use strict";
  const finite = BP.finite;

  class NormsChart {
    constructor(id, opts) {
      this.chart = new BP.SeriesChart(id, BP.merge({
        layout: {
          xaxis: { title: { text: "step" } }, yaxis: { title: { text: "‖gradient‖" }, type: "log", exponentformat: "power", dtick: 1 },
          legend: { font: { size: 11 } },
        },
      }, opts || {}));
      this.names = null;
    }
    reset() {
      this.names = null;
      this.zeroNote = false;
      this.chart.reset([]);
    }
    layers(names) {
      if (this.names && this.names.join() === names.join()) return;
      this.names = names.slice();
      // a norm per step jitters: the curves are smoothed (EMA, the raw values faint behind)
      this.chart.setSmoothing(0.8);
      this.chart.reset(names.map((n, i) => ({
        name: BP.layerName(n), line: { color: BP.layerColor(i, names.length), width: 1.6 }, smooth: true, ghost: true,
        hovertemplate: n + ": %{y:.3g}<extra>step %{x}</extra>",
      })));
    }
    push(ev) {
      if (!this.names) this.layers(ev.names);
      ev.grad.forEach((g, i) => this.chart.pushOne(i, ev.step, finite(g) && g > 0 ? g : null));
      // a log scale cannot show 0: say so when every layer's gradient is exactly zero (e.g. saturated units)
      const zero = ev.grad.length > 0 && ev.grad.every((g) => g === 0);
      if (zero !== !!this.zeroNote) {
        this.zeroNote = zero;
        this.chart.layout.annotations = zero ? [{ xref: "paper", yref: "paper", x: 0.5, y: 0.5, showarrow: false,
          text: "every gradient is exactly 0 at step " + ev.step + " (saturated units: nothing left to learn from)",
          font: { size: 12, color: "#b91c1c" }, bgcolor: "rgba(255,255,255,.9)" }] : [];
        this.chart.dirty = true;
        this.chart.request();
      }
    }
  }
  BP.NormsChart = NormsChart;
})();
