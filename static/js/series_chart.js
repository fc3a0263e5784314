/* Live line charts: the raw points kept, EMA smoothing and thinning applied when drawing, new points sent
 * to Plotly in one extendTraces per frame; the loss chart's tools and series. */
(function () {
  "use strict";
  const finite = BP.finite, merge = BP.merge;

  /** The layout a chart shows before its first point: axes from 0 to 1 (Plotly's own empty axes, -1 to 6 and -1 to
   *  4, would read as a negative loss or an accuracy of 400%); an axis given a fixed range, or a log one, keeps it. */
  function emptyAxes(layout) {
    const out = Object.assign({}, layout);
    for (const name of ["xaxis", "yaxis"]) {
      const ax = layout[name] || {};
      if (!(ax.range && ax.autorange === false) && ax.type !== "log") out[name] = merge(ax, { range: [0, 1], autorange: false });
    }
    return out;
  }

  /** A live line chart. Series are added with reset()/add(); points with push(). The raw points are kept,
   *  smoothing (EMA with bias correction) and thinning (every stride-th point) are applied when drawing,
   *  new points go to Plotly in one extendTraces per frame, and the chart is rebuilt with Plotly.react when
   *  the smoothing or the stride changes. */
  class SeriesChart {
    constructor(id, opts) {
      opts = opts || {};
      this.id = id;
      this.el = document.getElementById(id);
      this.layout = BP.layout(opts.layout);
      this.maxPoints = opts.maxPoints || 600; // per curve drawn (about a point per pixel of a chart's width)
      this.smoothing = 0;
      this.series = [];
      this.stride = 1;
      this.dirty = false;
      this.traceOf = [];
      this.empty = true;
      BP.newPlot(this.el, [], emptyAxes(this.layout));
    }
    /** Replace every series: specs are Plotly trace props plus smooth (EMA applies) and ghost (faint raw copy). */
    reset(specs) {
      this.series = [];
      this.stride = 1;
      this.layout.uirevision = (this.rev = (this.rev || 0) + 1); // a new run: forget the previous zoom
      this.layout.shapes = [];
      this.layout.annotations = [];
      (specs || []).forEach((s) => this.add(s));
      this.dirty = true;
      BP.markData(this.el, false);
      this.request();
    }
    add(spec) {
      this.series.push({ spec, x: [], y: [], done: 0, n: 0, ema: 0, emaN: 0 });
      this.dirty = true;
      this.request();
      return this.series.length - 1;
    }
    push(k, xs, ys) {
      const s = this.series[k];
      if (!s || !xs) return;
      for (let i = 0; i < xs.length; i++) {
        s.x.push(xs[i]);
        s.y.push(ys[i]);
      }
      if (xs.length) this.request();
    }
    pushOne(k, x, y) {
      this.push(k, [x], [y]);
    }
    length(k) {
      return this.series[k] ? this.series[k].x.length : 0;
    }
    setSmoothing(w) {
      this.smoothing = w;
      this.dirty = true;
      this.request();
    }
    setLog(on) {
      this.layout.yaxis = merge(this.layout.yaxis, { type: on ? "log" : "linear", autorange: true });
      this.dirty = true;
      this.request();
    }
    /** A dotted vertical line with a label (e.g. where the learning rate changed). */
    marker(x, text) {
      this.layout.shapes = (this.layout.shapes || []).concat([{
        type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
        line: { color: BP.colors.lr, width: 1.2, dash: "dot" },
      }]);
      this.layout.annotations = (this.layout.annotations || []).concat([{
        x, y: 1, xref: "x", yref: "paper", text, showarrow: false, xanchor: "left", yanchor: "top",
        font: { size: 10.5, color: BP.colors.lr }, bgcolor: "rgba(255,255,255,.8)",
      }]);
      this.dirty = true;
      this.request();
    }
    /** A dashed horizontal line with a label at the right (e.g. chance on an accuracy chart); until reset(). */
    level(y, text) {
      if (!finite(y)) return;
      this.layout.shapes = (this.layout.shapes || []).concat([{
        type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: y, y1: y, layer: "below",
        line: { color: "#64748b", width: 1.3, dash: "dash" },
      }]);
      this.layout.annotations = (this.layout.annotations || []).concat([{
        x: 1, y, xref: "paper", yref: "y", text, showarrow: false, xanchor: "right", yanchor: "bottom",
        font: { size: 10.5, color: "#475569" }, bgcolor: "rgba(255,255,255,.8)",
      }]);
      this.dirty = true;
      this.request();
    }
    request() {
      BP.render.request(this.id, () => this.flush());
    }
    _advance(s, out) {
      const w = s.spec.smooth ? this.smoothing : 0;
      for (let j = s.done; j < s.x.length; j++) {
        const v = s.y[j];
        let sm = finite(v) ? v : null;
        if (w > 0) {
          if (sm !== null) {
            s.ema = w * s.ema + (1 - w) * v;
            s.emaN += 1;
            sm = s.ema / (1 - Math.pow(w, s.emaN));
          }
        }
        if (s.n % this.stride === 0) {
          out.x.push(s.x[j]);
          out.y.push(sm);
          if (out.g) out.g.push(finite(v) ? v : null);
        }
        s.n += 1;
      }
      s.done = s.x.length;
    }
    _ghost(s) {
      return s.spec.ghost && s.spec.smooth && this.smoothing > 0;
    }
    _rebuild() {
      let longest = 0;
      for (const s of this.series) longest = Math.max(longest, s.x.length);
      this.stride = 1;
      while (longest / this.stride > this.maxPoints) this.stride *= 2;
      const traces = [];
      this.traceOf = [];
      for (const s of this.series) {
        s.done = 0; s.n = 0; s.ema = 0; s.emaN = 0;
        const ghost = this._ghost(s);
        const out = { x: [], y: [], g: ghost ? [] : null };
        this._advance(s, out);
        const spec = Object.assign({}, s.spec);
        delete spec.smooth;
        delete spec.ghost;
        const idx = {};
        if (ghost) {
          idx.ghost = traces.length;
          traces.push({
            type: "scatter", mode: "lines", x: out.x.slice(), y: out.g, hoverinfo: "skip", showlegend: false,
            legendgroup: spec.legendgroup || spec.name, line: { color: (spec.line || {}).color, width: 1 }, opacity: 0.22,
          });
        }
        idx.main = traces.length;
        traces.push(merge(merge({ type: "scatter", mode: "lines" }, spec), { x: out.x, y: out.y }));
        this.traceOf.push(idx);
      }
      this.empty = !this.series.some((s) => s.x.length);
      Plotly.react(this.el, traces, this.empty ? emptyAxes(this.layout) : this.layout, BP.plotConfig);
      this.shown = this.series.map((s) => Math.ceil(s.n / this.stride));
    }
    flush() {
      if (this.empty && this.series.some((s) => s.x.length)) this.dirty = true; // the first points: axes to fit them
      if (this.dirty) {
        this.dirty = false;
        this._rebuild();
      } else {
        const idx = [], xs = [], ys = [];
        this.series.forEach((s, k) => {
          if (s.done >= s.x.length) return;
          const ghost = this._ghost(s);
          const out = { x: [], y: [], g: ghost ? [] : null };
          this._advance(s, out);
          if (!out.x.length) return;
          const t = this.traceOf[k];
          if (ghost) {
            idx.push(t.ghost); xs.push(out.x.slice()); ys.push(out.g);
          }
          idx.push(t.main); xs.push(out.x); ys.push(out.y);
          this.shown[k] += out.x.length;
        });
        if (idx.length) Plotly.extendTraces(this.el, { x: xs, y: ys }, idx);
        if (this.shown.some((n) => n > this.maxPoints)) {
          this.dirty = true;
          this.request();
        }
      }
      if (this.series.some((s) => s.x.length)) BP.markData(this.el);
      this._describe();
    }

    /** The chart in a sentence: each series' latest value, its step and its trend (at most six series). */
    _describe() {
      const card = this.el.closest(".multiple, .card"), h = card && card.querySelector("h2, h3");
      const title = h ? h.textContent.trim() : "Chart";
      const pct = /%/.test((this.layout.yaxis || {}).tickformat || "");
      const parts = [];
      for (const s of this.series) {
        let j = s.y.length - 1;
        while (j >= 0 && !finite(s.y[j])) j--;
        if (j < 0 || parts.length >= 6) continue;
        const value = pct ? BP.fmt.pct(s.y[j]) : BP.fmt.num(s.y[j]), trend = BP.trend(s.y.slice(-400));
        parts.push((s.spec.name || "series") + " " + value + " at step " + BP.fmt.int(s.x[j]) + (trend ? ", " + trend : ""));
      }
      BP.describe(this.el, title + ": " + (parts.length ? parts.join("; ") : "no data yet") + ".");
    }
  }
  BP.SeriesChart = SeriesChart;

  /** Wire a chart's log toggle and smoothing slider (ids `${id}-log`, `${id}-smooth`). */
  BP.lossTools = function (chart, id) {
    const log = document.getElementById(id + "-log"), smooth = document.getElementById(id + "-smooth");
    const out = document.getElementById(id + "-smooth-out");
    if (log) {
      chart.setLog(log.checked);
      log.addEventListener("change", () => chart.setLog(log.checked));
    }
    if (smooth) {
      const apply = () => {
        chart.setSmoothing(+smooth.value);
        if (out) out.textContent = (+smooth.value).toFixed(2);
      };
      apply();
      smooth.addEventListener("input", apply);
    }
  };
  /** Loss-chart series for the simple tasks (function, surface, classification): train and validation per step. */
  BP.lossSeries = function () {
    return [
      { name: "training", line: { color: BP.colors.train, width: 1.6 }, smooth: true, ghost: true,
        hovertemplate: "step %{x}<br>training loss %{y:.4g}<extra></extra>" },
      { name: "validation", line: { color: BP.colors.val, width: 1.6 }, smooth: true, ghost: true,
        hovertemplate: "step %{x}<br>validation loss %{y:.4g}<extra></extra>" },
    ];
  };
})();
