/* The Runs page's chart: the curves of the ticked runs overlaid (validation loss, training loss or validation
 * accuracy against the step), each in its run's colour, the baseline dashed. The curves are those the table
 * keeps (thinned, bpnet/engine/run_table.py), so the chart works after the server restarted. */
(function () {
  "use strict";

  function curve(row, metric) {
    const c = row.curves || {};
    if (c.eval_step && metric !== "loss") { // MNIST: validation at its evaluations
      return { x: c.eval_step, y: metric === "val_acc" ? c.eval_acc : c.eval_loss };
    }
    return { x: c.step || [], y: c[metric] || [] };
  }

  class RunsChart {
    constructor(id) {
      this.el = document.getElementById(id);
      this.layout = BP.layout({ xaxis: { title: { text: "step" } }, yaxis: { title: { text: "" } }, hovermode: "closest",
        margin: { l: 60, r: 30, t: 30, b: 44 } });
      BP.newPlot(this.el, [], this.layout);
    }

    /** Draw `rows` ({row, index, colour, baseline}) for `metric`; log scale for losses if asked. */
    draw(items, metric, log) {
      const traces = items.map(({ row, index, color, baseline }) => {
        const { x, y } = curve(row, metric);
        return { type: "scatter", mode: "lines", name: "#" + (index + 1) + (row.label ? " " + row.label : "") +
          (baseline ? " (baseline)" : ""), x, y, line: { color, width: 2, dash: baseline ? "dash" : "solid" },
          hovertemplate: "#" + (index + 1) + " step %{x}<br>%{y:.4g}<extra></extra>" };
      });
      const acc = metric === "val_acc";
      this.layout.yaxis = BP.merge(this.layout.yaxis, { title: { text: { val_loss: "validation loss", loss: "training loss",
        val_acc: "validation accuracy" }[metric] }, type: log && !acc ? "log" : "linear", tickformat: acc ? ".0%" : "" });
      BP.react(this.el, traces, this.layout);
      BP.markData(this.el, traces.length > 0);
      BP.describe("runs-chart", traces.length ? "The " + this.layout.yaxis.title.text + " of runs " +
        items.map((i) => "#" + (i.index + 1)).join(", ") + " against the step." : "No run ticked.");
    }
  }
  BP.RunsChart = RunsChart;
})();
