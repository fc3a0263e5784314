/* Plotly helpers: the one chart config and layout of the dashboard, creating and redrawing charts, and
 * BP.Layered, two charts stacked so that a moving curve redraws without the points under it. */
(function () {
  "use strict";
  const merge = BP.merge;

  const FONT = getComputedStyle(document.body).fontFamily;
  // no button of any chart offers to send it to Plotly's cloud (a school tool never sends class data to a
  // third party): the bundled Plotly.js calls it sendChartToCloud ("Share chart..."), older ones sendDataToCloud
  BP.CLOUD_BUTTONS = ["sendChartToCloud", "sendDataToCloud", "editInChartStudio"];
  BP.plotConfig = {
    responsive: true, displaylogo: false, showSendToCloud: false, showEditInChartStudio: false, showLink: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d", "hoverClosestCartesian",
      "hoverCompareCartesian", "toggleSpikelines"].concat(BP.CLOUD_BUTTONS),
    toImageButtonOptions: { format: "png", scale: 2 },
    // WebGL charts (the 3-D surface) at the screen's own resolution, not Plotly's default of twice it: 4x fewer
    // pixels to shade on a 1x screen, where software WebGL (no GPU) spent up to seconds per frame
    plotGlPixelRatio: Math.min(2, window.devicePixelRatio || 1),
  };
  BP.overlayConfig = Object.assign({}, BP.plotConfig, { staticPlot: true }); // drawn on top, no interaction

  BP.axis = function (title) {
    return {
      title: { text: title || "", standoff: 6, font: { size: 12 } }, gridcolor: "#eef2f7", zerolinecolor: "#dbe2ea",
      linecolor: "#cbd5e1", ticks: "outside", tickcolor: "#cbd5e1", ticklen: 4, automargin: true,
      // labels may overflow (automargin makes room anyway): Plotly's default ("hide past div") measures every
      // tick label's box at each redraw, a forced layout per label and most of a live chart's redraw time
      ticklabeloverflow: "allow",
    };
  };

  /** The common layout; `extra` is merged in (deeply). */
  BP.layout = function (extra) {
    return merge({
      autosize: true, uirevision: "keep",
      margin: { l: 56, r: 34, t: 30, b: 42 },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      modebar: { orientation: "v", bgcolor: "rgba(255,255,255,0.85)", color: "#a3adbd", activecolor: "#4f46e5" },
      font: { family: FONT, size: 12, color: "#334155" },
      xaxis: BP.axis(""), yaxis: BP.axis(""),
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.0, yanchor: "bottom", font: { size: 11.5 }, traceorder: "normal",
        bgcolor: "rgba(0,0,0,0)", itemclick: "toggle", itemdoubleclick: "toggleothers" },
      hoverlabel: { font: { family: FONT, size: 12 } },
      showlegend: true,
    }, extra || {});
  };

  const byId = (el) => (typeof el === "string" ? document.getElementById(el) : el);

  /** Mark a chart as holding data (hides its placeholder). */
  BP.markData = function (el, on) {
    const wrap = byId(el).closest(".chart-wrap, .digits-wrap, .table-wrap, .multiples");
    if (wrap) wrap.classList.toggle("has-data", on !== false);
  };
  /** Keep a chart's mode bar out of the tab order: a keyboard user tabs from control to control, not through
   *  five icons per chart (the mouse still uses them; the charts' text alternatives carry their content). */
  function untab(el) {
    for (const b of el.querySelectorAll(".modebar-btn, .modebar a, .modebar button")) {
      if (b.tabIndex !== -1) b.tabIndex = -1;
    }
  }
  /** Every chart of the dashboard is made here: its config, its mode bar kept out of the tab order, and its
   *  text alternative (BP.describe). */
  BP.newPlot = function (el, traces, layout, config) {
    el = byId(el);
    config = config || BP.plotConfig;
    Plotly.newPlot(el, traces || [], layout || BP.layout(), config);
    el.on("plotly_afterplot", () => untab(el));
    untab(el);
    if (!config.staticPlot && !document.getElementById(el.id + "-alt")) BP.describe(el, "Empty until a run starts.");
    return el;
  };

  /** Set a chart's one-line text alternative, e.g. "Loss: training 0.012 at step 400, falling": the element
   *  `<id>-alt` (visually hidden, read by screen readers; made after the chart when the page has none). */
  BP.describe = function (el, text) {
    el = byId(el);
    let alt = document.getElementById(el.id + "-alt");
    if (!alt) {
      alt = document.createElement("p");
      alt.className = "chart-alt sr-only";
      alt.id = el.id + "-alt";
      (el.closest(".chart-wrap") || el).after(alt);
    }
    if (alt.textContent !== text) alt.textContent = text;
  };

  /** "falling", "rising" or "steady": the mean of the last tenth of the values against the tenth before. */
  BP.trend = function (ys) {
    const v = ys.filter(BP.finite), k = Math.max(2, Math.floor(v.length / 10));
    if (v.length < 2 * k) return "";
    const mean = (a) => a.reduce((s, x) => s + x, 0) / a.length;
    const now = mean(v.slice(-k)), before = mean(v.slice(-2 * k, -k));
    const change = (now - before) / (Math.abs(before) || 1);
    return change < -0.02 ? "falling" : change > 0.02 ? "rising" : "steady";
  };
  BP.plot = (id, traces, layout) => BP.newPlot(id, traces, layout);
  BP.react = function (el, traces, layout) {
    el = byId(el);
    Plotly.react(el, traces, layout, BP.plotConfig);
    BP.markData(el);
  };

  /** Two Plotly charts stacked in one box with the same axes: `base` (interactive: hover, zoom, legend) and
   *  `overlay` (drawn on top, no interaction). Redrawing one does not redraw the other, so a chart whose
   *  points stay put while one curve moves costs only the curve per update. The overlay follows the base's
   *  plot area and axis ranges (after every draw, zoom or resize of the base). */
  class Layered {
    constructor(baseId, overlayId, layout) {
      this.base = document.getElementById(baseId);
      this.overlay = document.getElementById(overlayId);
      this.layout = layout;
      this.overlayTraces = [];
      this.overlayLegend = false;
      this.key = "";
      BP.newPlot(this.base, [], layout);
      BP.newPlot(this.overlay, [], this._overlayLayout(), BP.overlayConfig);
      this.base.on("plotly_afterplot", () => this.sync());
    }
    _overlayLayout() {
      const fl = this.base._fullLayout, s = fl && fl._size;
      const ax = (name) => {
        const a = fl && fl[name];
        return { visible: false, fixedrange: true, autorange: false, range: a ? a.range.slice() : [0, 1], type: a ? a.type : "linear" };
      };
      return {
        margin: s ? { l: s.l, r: s.r, t: s.t, b: s.b, pad: 0, autoexpand: false } : { l: 0, r: 0, t: 0, b: 0 },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", xaxis: ax("xaxis"), yaxis: ax("yaxis"),
        showlegend: this.overlayLegend, legend: this.layout.legend, font: this.layout.font, autosize: true,
      };
    }
    sync() {
      const fl = this.base._fullLayout, s = fl && fl._size;
      if (!s) return;
      const key = [s.l, s.r, s.t, s.b, fl.width, fl.height, fl.xaxis.range, fl.yaxis.range].join();
      if (key === this.key) return;
      this.key = key;
      this.drawOverlay();
    }
    drawBase(traces) {
      Plotly.react(this.base, traces, this.layout, BP.plotConfig);
      BP.markData(this.base);
    }
    drawOverlay(traces) {
      if (traces) this.overlayTraces = traces;
      Plotly.react(this.overlay, this.overlayTraces, this._overlayLayout(), BP.overlayConfig);
    }
  }
  BP.Layered = Layered;
})();
