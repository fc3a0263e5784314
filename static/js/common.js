/* bpnet dashboard: what every experiment page shares.
 *
 *   BP.data          the page's data from the server (schema, comparisons, page, watch)
 *   BP.fmt           number formatting
 *   BP.render        at most one redraw per animation frame: request(key, fn) keeps the latest fn per key
 *   BP.layout(...)   the common Plotly layout; BP.plot(...) creates a chart
 *   BP.SeriesChart   live line charts: raw data kept, EMA smoothing, thinning, batched Plotly.extendTraces
 *   BP.SettingsForm  the form generated from the schema: values, visibility rules, inline errors
 *   BP.JobView       socket, controls, status line, history + events (seq-ordered), reconnects, downloads
 */
(function () {
  "use strict";

  const BP = (window.BP = {});
  BP.data = JSON.parse(document.getElementById("bp-data").textContent);

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  BP.$ = $;
  BP.$$ = $$;
  const finite = (v) => typeof v === "number" && isFinite(v);
  BP.finite = finite;

  // ---------------------------------------------------------------------------------------------
  // formatting
  BP.fmt = {
    num(v, digits) {
      if (!finite(v)) return "–";
      const a = Math.abs(v);
      if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
      return String(+v.toPrecision(digits || 3));
    },
    int(v) {
      return finite(v) ? Math.round(v).toLocaleString("en-US") : "–";
    },
    pct(v, digits) {
      return finite(v) ? (100 * v).toFixed(digits == null ? 1 : digits) + " %" : "–";
    },
    dur(s) {
      if (!finite(s)) return "–";
      s = Math.max(0, Math.round(s));
      if (s < 60) return s + " s";
      const m = Math.floor(s / 60);
      if (m < 60) return m + " min " + String(s % 60).padStart(2, "0") + " s";
      return Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
    },
  };

  // ---------------------------------------------------------------------------------------------
  // colours: one meaning, one colour, on every page
  BP.colors = {
    train: "#2563eb", val: "#f97316", target: "#94a3b8", model: "#7c3aed", acc: "#16a34a",
    class0: "#2563eb", class1: "#f97316", lr: "#a855f7",
  };
  BP.runColors = ["#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777"];
  const LAYER_STOPS = [[49, 46, 129], [37, 99, 235], [13, 148, 136], [101, 163, 13], [217, 119, 6], [220, 38, 38]];
  /** Colour of layer i of n: first layers dark blue, last layers red, so depth reads at a glance. */
  BP.layerColor = function (i, n) {
    const t = n <= 1 ? 0.35 : i / (n - 1);
    const x = t * (LAYER_STOPS.length - 1), k = Math.min(Math.floor(x), LAYER_STOPS.length - 2), f = x - k;
    const c = LAYER_STOPS[k].map((a, j) => Math.round(a + f * (LAYER_STOPS[k + 1][j] - a)));
    return "rgb(" + c.join(",") + ")";
  };
  BP.runColor = (i) => BP.runColors[i % BP.runColors.length];

  // ---------------------------------------------------------------------------------------------
  // One redraw per animation frame at most, and never more than the machine can take: after a frame that
  // took t ms of drawing, the next one waits about 1.5 t, so drawing uses at most ~40 % of the page's time and
  // a slow or busy computer gets fewer, larger updates instead of a frozen page. Requests made meanwhile are
  // merged (the latest fn per key wins), so no data is lost: the latest state is drawn.
  BP.render = (function () {
    const jobs = new Map();
    let scheduled = false, cost = 0, notBefore = 0;
    function run() {
      const now = performance.now();
      if (now < notBefore) {
        setTimeout(() => requestAnimationFrame(run), notBefore - now);
        return;
      }
      scheduled = false;
      const list = Array.from(jobs.values());
      jobs.clear();
      for (const fn of list) fn();
      const t = performance.now() - now;
      cost = 0.6 * cost + 0.4 * t;
      notBefore = performance.now() + 1.5 * cost;
    }
    return {
      request(key, fn) {
        jobs.set(key, fn);
        if (!scheduled) {
          scheduled = true;
          requestAnimationFrame(run);
        }
      },
    };
  })();

  /** At most `limit` items of an array, evenly spread (for drawing; the data itself is not changed). */
  BP.thin = function (arr, limit) {
    if (!arr || arr.length <= limit) return arr;
    const out = [], step = arr.length / limit;
    for (let i = 0; i < limit; i++) out.push(arr[Math.floor(i * step)]);
    return out;
  };

  // ---------------------------------------------------------------------------------------------
  // Plotly helpers
  const FONT = getComputedStyle(document.body).fontFamily;
  BP.plotConfig = {
    responsive: true, displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d", "zoomIn2d", "zoomOut2d", "hoverClosestCartesian",
      "hoverCompareCartesian", "toggleSpikelines", "sendDataToCloud"],
    toImageButtonOptions: { format: "png", scale: 2 },
  };

  function isObj(v) {
    return v && typeof v === "object" && !Array.isArray(v);
  }
  function merge(a, b) {
    const out = Object.assign({}, a);
    for (const k of Object.keys(b || {})) out[k] = isObj(a[k]) && isObj(b[k]) ? merge(a[k], b[k]) : b[k];
    return out;
  }
  BP.merge = merge;

  function axis(title) {
    return {
      title: { text: title || "", standoff: 6, font: { size: 12 } }, gridcolor: "#eef2f7", zerolinecolor: "#dbe2ea",
      linecolor: "#cbd5e1", ticks: "outside", tickcolor: "#cbd5e1", ticklen: 4, automargin: true,
    };
  }
  BP.axis = axis;
  /** The common layout; `extra` is merged in (deeply). */
  BP.layout = function (extra) {
    return merge({
      autosize: true, uirevision: "keep",
      margin: { l: 56, r: 34, t: 30, b: 42 },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      modebar: { orientation: "v", bgcolor: "rgba(255,255,255,0.85)", color: "#a3adbd", activecolor: "#4f46e5" },
      font: { family: FONT, size: 12, color: "#334155" },
      xaxis: axis(""), yaxis: axis(""),
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.0, yanchor: "bottom", font: { size: 11.5 }, traceorder: "normal",
        bgcolor: "rgba(0,0,0,0)", itemclick: "toggle", itemdoubleclick: "toggleothers" },
      hoverlabel: { font: { family: FONT, size: 12 } },
      showlegend: true,
    }, extra || {});
  };
  /** Mark a chart as holding data (hides its placeholder). */
  BP.markData = function (el, on) {
    const wrap = (typeof el === "string" ? document.getElementById(el) : el).closest(".chart-wrap, .digits-wrap, .table-wrap, .multiples");
    if (wrap) wrap.classList.toggle("has-data", on !== false);
  };
  BP.plot = function (id, traces, layout) {
    const el = document.getElementById(id);
    Plotly.newPlot(el, traces || [], layout || BP.layout(), BP.plotConfig);
    return el;
  };
  BP.react = function (el, traces, layout) {
    el = typeof el === "string" ? document.getElementById(el) : el;
    Plotly.react(el, traces, layout, BP.plotConfig);
    BP.markData(el);
  };

  // ---------------------------------------------------------------------------------------------
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
      Plotly.newPlot(this.base, [], layout, BP.plotConfig);
      Plotly.newPlot(this.overlay, [], this._overlayLayout(), { staticPlot: true, responsive: true });
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
      Plotly.react(this.overlay, this.overlayTraces, this._overlayLayout(), { staticPlot: true, responsive: true });
    }
  }
  BP.Layered = Layered;

  // ---------------------------------------------------------------------------------------------
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
      this.maxPoints = opts.maxPoints || 1200;
      this.smoothing = 0;
      this.series = [];
      this.stride = 1;
      this.dirty = false;
      this.traceOf = [];
      Plotly.newPlot(this.el, [], this.layout, BP.plotConfig);
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
      Plotly.react(this.el, traces, this.layout, BP.plotConfig);
      this.shown = this.series.map((s) => Math.ceil(s.n / this.stride));
    }
    flush() {
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

  // ---------------------------------------------------------------------------------------------
  /** The settings form generated from the schema by the _form.html macro. */
  class SettingsForm {
    constructor(form, opts) {
      opts = opts || {};
      this.form = form;
      this.task = form.getAttribute("data-task"); // not form.dataset: a field named "dataset" shadows it
      this.specs = BP.data.schema[this.task];
      this.varies = [];
      this.onSubmit = opts.onSubmit;
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (this.onSubmit) this.onSubmit();
      });
      form.addEventListener("change", () => this.applyRules());
      form.addEventListener("input", (e) => {
        const f = e.target.closest(".field");
        if (f) this.clearError(f.dataset.field);
      });
      this.applyRules();
    }
    field(name) {
      return this.form.querySelector('.field[data-field="' + name + '"]');
    }
    input(name) {
      const f = this.field(name);
      return f ? f.querySelector("input, select") : null;
    }
    raw() {
      const v = {};
      for (const f of $$(".field[data-field]", this.form)) {
        const el = f.querySelector("input, select");
        v[f.dataset.field] = el.type === "checkbox" ? el.checked : el.value;
      }
      return v;
    }
    applyRules() {
      const v = this.raw();
      // a field matters only when the settings its spec's `when` names have one of the listed values
      // (or vary per run in a comparison)
      for (const [name, spec] of Object.entries(this.specs)) {
        const f = this.field(name);
        if (!f || !spec.when) continue;
        f.hidden = !Object.entries(spec.when).every(
          ([other, values]) => this.varies.includes(other) || !(other in v) || values.includes(v[other]));
      }
    }
    /** Fields set per run by a comparison: disabled, not sent, with a note. */
    setVaries(names, note) {
      this.varies = names || [];
      for (const f of $$(".field[data-field]", this.form)) {
        const on = this.varies.includes(f.dataset.field);
        f.querySelector("input, select").disabled = on;
        const n = f.querySelector(".varies-note");
        n.hidden = !on;
        n.textContent = on ? note : "";
        f.classList.toggle("varied", on);
      }
      this.applyRules();
    }
    /** The config to send: the task, then every shown, enabled field of this task, typed by its kind. */
    values() {
      const out = { task: this.task };
      for (const f of $$(".field[data-field]", this.form)) {
        const el = f.querySelector("input, select");
        if (f.hidden || el.disabled) continue;
        const kind = f.dataset.kind, s = el.value.trim();
        let v;
        if (kind === "bool") v = el.checked;
        else if (kind === "int" || kind === "float") v = s !== "" && isFinite(Number(s)) ? Number(s) : s;
        else v = kind === "str" ? el.value : s;
        out[f.dataset.field] = v;
      }
      return out;
    }
    fill(config) {
      for (const [name, value] of Object.entries(config || {})) {
        const el = this.input(name);
        if (!el) continue;
        if (el.type === "checkbox") el.checked = !!value;
        else el.value = Array.isArray(value) ? value.join(",") : value == null ? "" : String(value);
      }
      this.clearErrors();
      this.applyRules();
    }
    defaults() {
      const d = {};
      for (const [name, spec] of Object.entries(this.specs)) if (name !== "task") d[name] = spec.default;
      return d;
    }
    reset() {
      this.fill(this.defaults());
    }
    /** Show each error under its field; returns the messages that have no visible field. */
    setErrors(errors) {
      this.clearErrors();
      const rest = [];
      let first = null;
      for (const [name, msg] of Object.entries(errors || {})) {
        const f = this.field(name);
        if (!f || f.hidden) {
          const spec = this.specs[name];
          rest.push((spec ? spec.label : name) + ": " + msg);
          continue;
        }
        f.classList.add("invalid");
        const box = f.querySelector(".field-error");
        box.textContent = msg;
        box.hidden = false;
        if (!first) first = f;
      }
      if (first) {
        first.scrollIntoView({ block: "nearest", behavior: "smooth" });
        const el = first.querySelector("input, select");
        if (el && !el.disabled) el.focus({ preventScroll: true });
      }
      return rest;
    }
    clearError(name) {
      const f = this.field(name);
      if (!f) return;
      f.classList.remove("invalid");
      const box = f.querySelector(".field-error");
      box.hidden = true;
      box.textContent = "";
    }
    clearErrors() {
      for (const f of $$(".field[data-field]", this.form)) this.clearError(f.dataset.field);
    }
    setDisabled(on) {
      $(".settings-body", this.form).disabled = on;
    }
  }
  BP.SettingsForm = SettingsForm;

  /** Example chips: fill the formula box and, when nothing runs, start right away. */
  BP.wireExamples = function (settings, job) {
    for (const chip of $$("[data-example]", settings.form)) {
      chip.title = "Fit " + chip.dataset.example;
      chip.addEventListener("click", () => {
        const el = settings.input("formula");
        el.value = chip.dataset.example;
        settings.clearError("formula");
        if (job.canStart()) job.start();
      });
    }
  };

  // ---------------------------------------------------------------------------------------------
  const ACTIVE = ["starting", "created", "running", "paused"];
  const TERMINAL = ["finished", "stopped", "failed"];

  /** The job a page shows: connection, controls, status, history and events in seq order. */
  class JobView {
    /**
     * opts.page      page name (storage key)
     * opts.handlers  {reset(nRuns, history), dataset(run, ev), steps, eval, snapshot, norms, lr, done, config(config, history)}
     * opts.payload() {config} or {comparison, config}; null to abort
     * opts.form()    the SettingsForm in use
     */
    constructor(opts) {
      this.opts = opts;
      this.h = opts.handlers;
      this.readOnly = !!BP.data.watch;
      this.jobId = null;
      this.owner = false;
      this.state = "idle";
      this.lastSeq = 0;
      this.runs = [];
      this.connected = false;
      this.watchUrl = "";
      this.storageKey = "bpnet.job." + opts.page;
      this.el = {
        start: $("#btn-start"), pause: $("#btn-pause"), stop: $("#btn-stop"), lr: $("#live-lr"), lrBtn: $("#btn-lr"),
        state: $("#st-state"), epoch: $("#st-epoch span"), step: $("#st-step span"), speed: $("#st-speed span"),
        eta: $("#st-eta span"), progress: $("#st-progress"), conn: $("#st-conn"), message: $("#message"),
        dlRun: $("#dl-run"), csv: $("#dl-csv"), json: $("#dl-json"), npz: $("#dl-npz"),
        share: $("#share-url"), copy: $("#btn-copy"), reset: $("#btn-reset"),
      };
      this._wire();
      this._connect();
      this.updateControls();
    }

    // --- wiring ---------------------------------------------------------------------------------
    _wire() {
      const e = this.el;
      e.start.addEventListener("click", () => this.start());
      e.pause.addEventListener("click", () => this.control(this.state === "paused" ? "resume" : "pause"));
      e.stop.addEventListener("click", () => this.control("stop"));
      e.lrBtn.addEventListener("click", () => this.applyLr());
      e.lr.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") this.applyLr();
      });
      e.lr.addEventListener("input", () => (this.lrEdited = true));
      e.copy.addEventListener("click", () => this.copyShare());
      e.dlRun.addEventListener("change", () => this.updateDownloads());
      if (e.reset) e.reset.addEventListener("click", () => {
        const form = this.opts.form();
        if (this.opts.resetForm) this.opts.resetForm();
        else form.reset();
        this.setMessage("Settings back to their defaults.", "muted");
      });
      if (this.readOnly) {
        $("#controls").hidden = true;
        $("#readonly-note").hidden = false;
        $("#own-run-link").href = "/" + BP.data.page;
        if (e.reset) e.reset.hidden = true;
      }
    }

    _connect() {
      const socket = (this.socket = io({ reconnectionDelay: 500, reconnectionDelayMax: 4000 }));
      socket.on("connect", () => {
        this.connected = true;
        this._conn("connected", "connected");
        const id = this.readOnly ? BP.data.watch : this.jobId || sessionStorage.getItem(this.storageKey);
        if (id) this.watch(id, !this.jobId && !this.readOnly).then(() => (this.settled = true));
        else this.settled = true; // `settled`: the page shows what it will show (tests wait for it)
        this.updateControls();
      });
      socket.on("disconnect", (reason) => {
        this.connected = false;
        this._conn("lost", reason === "io client disconnect" ? "disconnected" : "reconnecting…");
        this.updateControls();
      });
      socket.on("connect_error", () => this._conn("lost", "cannot reach the server, retrying…"));
      socket.on("history", (h) => this._history(h));
      socket.on("events", (list) => this._events(list));
      socket.on("error", () => {}); // refusals arrive in the acks, which say which request failed
    }

    _conn(kind, text) {
      this.el.conn.dataset.conn = kind;
      this.el.conn.textContent = text;
    }

    /** emit with an ack; resolves to the ack ({ok: false, message} on a timeout). */
    call(event, data, timeout) {
      return new Promise((resolve) => {
        if (!this.connected) {
          resolve({ ok: false, message: "not connected to the server: wait a moment and try again" });
          return;
        }
        this.socket.timeout(timeout || 15000).emit(event, data, (err, ack) => {
          resolve(err ? { ok: false, message: "the server did not answer in time: try again" } : ack || { ok: false, message: "no answer" });
        });
      });
    }

    // --- actions --------------------------------------------------------------------------------
    canStart() {
      return !this.readOnly && this.connected && !ACTIVE.includes(this.state);
    }

    async start() {
      if (!this.canStart()) return;
      const form = this.opts.form();
      form.clearErrors();
      const payload = this.opts.payload();
      if (!payload) return;
      const previous = { jobId: this.jobId, state: this.state };
      this.jobId = null;
      this.state = "starting";
      this.setMessage("Starting: preparing the data and the network…", "muted");
      this.updateControls();
      this.renderStatus();
      const ack = await this.call("start", payload, 120000);
      if (!ack.ok) {
        if (this.jobId === null) {
          this.jobId = previous.jobId;
          this.state = previous.state;
        }
        if (ack.errors) {
          const rest = form.setErrors(ack.errors);
          const n = Object.keys(ack.errors).length;
          this.setMessage((n === 1 ? "One setting needs fixing" : n + " settings need fixing") +
            (rest.length ? ": " + rest.join("; ") : " (see the form)."), "error");
        } else {
          this.setMessage(cap(ack.message || "the server refused to start the run"), "error");
        }
        this.updateControls();
        this.renderStatus();
        return;
      }
      if (this.jobId !== ack.job_id) this._adopt(ack.job_id);
      this.owner = true;
      this.watchUrl = location.origin + ack.watch_url;
      sessionStorage.setItem(this.storageKey, ack.job_id);
      this.updateShare();
      this.updateControls();
    }

    async control(action) {
      if (!this.jobId) return;
      const ack = await this.call(action, { job_id: this.jobId });
      if (!ack.ok) this.setMessage(cap(ack.message), "error");
      else if (action === "stop") this.setMessage("Stopping after the current step…", "muted");
    }

    async applyLr() {
      if (!this.jobId || this.el.lrBtn.disabled) return;
      const raw = this.el.lr.value.trim();
      const ack = await this.call("set_lr", { job_id: this.jobId, lr: raw === "" ? raw : Number(raw) });
      this.lrEdited = false;
      if (ack.ok) this.setMessage("Learning rate set to " + BP.fmt.num(ack.lr, 4) + " from the next step.", "success");
      else this.setMessage("Learning rate not changed: " + ack.message, "error");
    }

    async watch(jobId, restoring) {
      const ack = await this.call("watch", { job_id: jobId });
      if (!ack.ok) {
        if (restoring) {
          sessionStorage.removeItem(this.storageKey);
          return;
        }
        this.setMessage(this.readOnly ? "This run is no longer available: " + ack.message : cap(ack.message), "error");
        if (!this.readOnly && jobId === this.jobId) {
          // the job is gone (the server restarted?): back to a startable page
          this.state = "idle";
          this.updateControls();
        }
        return;
      }
      this.owner = !this.readOnly && !!ack.owner;
      if (!this.readOnly && !ack.owner && jobId === this.jobId) {
        this.setMessage("Reconnected, but this session no longer owns the run: you can watch it, not control it.", "warn");
      }
      if (this.readOnly) this.watchUrl = location.href;
      else if (!this.watchUrl) this.watchUrl = location.origin + "/watch/" + jobId;
      this.updateShare();
      this.updateControls();
    }

    _adopt(jobId) {
      this.jobId = jobId;
      this.lastSeq = 0;
      this.updateDownloads();
    }

    // --- incoming -------------------------------------------------------------------------------
    _history(h) {
      if (this.jobId !== h.job_id) {
        // a job we asked for: the one being started (its history comes before the ack), or restored / watched
        if (!(this.state === "starting" || !this.jobId || this.readOnly)) return;
        this._adopt(h.job_id);
      }
      this.lastSeq = h.seq;
      this.runs = h.runs.map((r) => ({
        label: r.label, total: r.total_steps, step: r.step, spe: r.dataset.steps_per_epoch,
        epochs: r.dataset.config.epochs, sps: null, eta: null, final: r.final, failure: r.failure,
      }));
      this.h.reset(h.runs.length, h);
      if (this.h.config && h.runs.length && (this.readOnly || this.state !== "starting")) this.h.config(h.runs[0].dataset.config, h);
      h.runs.forEach((r, i) => {
        this.h.dataset(i, Object.assign({ run: i }, r.dataset));
        const s = r.steps;
        if (s && s.step && s.step.length) this.h.steps(i, Object.assign({ run: i }, s), true);
        for (const e of r.evals || []) this.h.eval(i, Object.assign({ run: i }, e));
        for (const n of r.norms || []) this.h.norms(i, Object.assign({ run: i }, n));
        for (const [step, lr] of r.lr_changes || []) this.h.lr && this.h.lr(i, { run: i, step, lr });
        if (r.snapshot) this.h.snapshot(i, Object.assign({ run: i }, r.snapshot));
        if (r.final) this.h.done(i, Object.assign({ run: i }, r.final));
        else if (r.failure) this.h.done(i, { run: i, failed: r.failure, steps: r.step });
      });
      this.runs.forEach((r) => {
        r.progress = r.total ? r.step / r.total : 0;
        r.epoch = r.spe ? r.step / r.spe : null;
      });
      if (h.runs.length) {
        const lrs = h.runs[0].steps && h.runs[0].steps.lr;
        if (lrs && lrs.length) this._showLr(lrs[lrs.length - 1]);
        else this._showLr(h.runs[0].dataset.config.lr);
      }
      this._state(h.state, h.message, true);
      this.updateDownloads();
    }

    _events(list) {
      for (const ev of list) {
        if (ev.job_id !== this.jobId || ev.seq <= this.lastSeq) continue;
        if (ev.seq > this.lastSeq + 1) {
          // a gap: events went by before this page joined (e.g. a queued job began meanwhile); ask for the
          // whole history again rather than draw an incomplete picture
          if (!this.resyncing) {
            this.resyncing = true;
            this.watch(this.jobId).finally(() => (this.resyncing = false));
          }
          return;
        }
        this.lastSeq = ev.seq;
        this._event(ev);
      }
    }

    _event(ev) {
      const r = ev.run || 0;
      switch (ev.type) {
        case "state":
          this._state(ev.state, ev.message, false);
          break;
        case "dataset":
          this.runs[r] = Object.assign(this.runs[r] || {}, {
            label: ev.label, total: ev.total_steps, step: 0, spe: ev.steps_per_epoch, epochs: ev.config.epochs,
            progress: 0,
          });
          this.h.dataset(r, ev);
          this.updateDownloads(); // a job that began after its history: its runs are announced one by one
          break;
        case "steps": {
          const run = this.runs[r] || (this.runs[r] = {});
          const n = ev.step.length;
          if (n) {
            run.step = ev.step[n - 1];
            run.epoch = ev.epoch[n - 1];
          }
          run.sps = ev.samples_per_sec;
          run.eta = ev.eta;
          run.progress = ev.progress;
          if (r === 0) this._showLr(ev.lr);
          this.h.steps(r, ev, false);
          this.renderStatus();
          break;
        }
        case "lr":
          if (this.h.lr) this.h.lr(r, ev);
          break;
        case "done": {
          const run = this.runs[r] || (this.runs[r] = {});
          if (ev.failed) run.failure = ev.failed;
          else run.final = ev;
          run.sps = null;
          run.eta = 0;
          this.h.done(r, ev);
          break;
        }
        default:
          if (this.h[ev.type]) this.h[ev.type](r, ev);
      }
    }

    _showLr(lr) {
      if (finite(lr) && !this.lrEdited && document.activeElement !== this.el.lr) this.el.lr.value = +lr.toPrecision(6);
    }

    _state(state, message, fromHistory) {
      this.state = state;
      const steps = this.runs.length ? Math.max(...this.runs.map((r) => r.step || 0)) : 0;
      if (state === "failed") {
        this.setMessage("Training failed: " + (message || "unknown error") + "", "error");
      } else if (state === "stopped") {
        this.setMessage(cap(message || "stopped") + " at step " + BP.fmt.int(steps) + ". Change the settings and start again.", "muted");
      } else if (state === "finished") {
        this.setMessage(this._summary(message), message ? "warn" : "success");
      } else if (state === "paused") {
        this.setMessage("Paused at step " + BP.fmt.int(steps) + ": change the learning rate if you like, then resume.", "muted");
      } else if (state === "running") {
        if (fromHistory && this.readOnly) this.setMessage("Watching live: the charts follow the run as it trains.", "muted");
        else if (!fromHistory || this.el.message.dataset.kind !== "error") this.setMessage(this.readOnly ? "Watching live." : "Training… the charts update live.", "muted");
      }
      this.updateControls();
      this.renderStatus();
    }

    _summary(note) {
      const done = this.runs.filter((r) => r.final);
      if (!done.length) return "Finished." + (note ? " " + note : "");
      const secs = Math.max(...done.map((r) => r.final.seconds || 0));
      let text = "Finished in " + BP.fmt.dur(secs);
      if (this.runs.length === 1) {
        const f = done[0].final;
        text += ": validation loss " + BP.fmt.num(f.val_loss, 4);
        if (finite(f.val_acc)) text += ", validation accuracy " + BP.fmt.pct(f.val_acc);
        if (finite(f.test_acc)) text += ", test accuracy " + BP.fmt.pct(f.test_acc);
        text += ".";
      } else {
        text += ": " + done.length + " of " + this.runs.length + " runs completed.";
      }
      if (note) text += " " + note;
      return text;
    }

    // --- output ---------------------------------------------------------------------------------
    setMessage(text, kind) {
      this.el.message.textContent = text;
      this.el.message.dataset.kind = kind || "muted";
    }

    updateControls() {
      const e = this.el, active = ACTIVE.includes(this.state), live = this.state === "running" || this.state === "paused";
      const mine = this.owner && this.connected;
      e.start.disabled = !this.canStart();
      e.pause.disabled = !(mine && live);
      e.pause.querySelector("span").textContent = this.state === "paused" ? "Resume" : "Pause";
      e.pause.classList.toggle("primary", this.state === "paused");
      e.stop.disabled = !(mine && (live || this.state === "created"));
      e.lr.disabled = e.lrBtn.disabled = !(mine && live);
      const form = this.opts.form();
      if (form) form.setDisabled(this.readOnly || active);
      if (this.opts.onControls) this.opts.onControls(this.readOnly || active);
      if (e.reset) e.reset.disabled = this.readOnly || active;
    }

    renderStatus() {
      BP.render.request("status", () => this._renderStatus());
    }

    _renderStatus() {
      const e = this.el, runs = this.runs.filter(Boolean), st = this.state;
      e.state.textContent = st === "idle" ? "ready" : st;
      e.state.dataset.state = st;
      e.progress.dataset.state = st;
      if (!runs.length || st === "starting") {
        e.epoch.textContent = e.step.textContent = e.speed.textContent = e.eta.textContent = "–";
        this._progress(0);
        return;
      }
      const r0 = runs[0], live = st === "running";
      const step = Math.max(...runs.map((r) => r.step || 0));
      const epoch = Math.max(...runs.map((r) => r.epoch || 0));
      e.epoch.textContent = (finite(epoch) ? epoch.toFixed(epoch >= 10 ? 1 : 2) : "–") + " / " + (r0.epochs || "–");
      e.step.textContent = BP.fmt.int(step) + " / " + BP.fmt.int(r0.total);
      const sps = runs.reduce((a, r) => a + (finite(r.sps) ? r.sps : 0), 0);
      e.speed.textContent = live && sps > 0 ? BP.fmt.int(sps) + " samples/s" : "–";
      const eta = Math.max(...runs.map((r) => (finite(r.eta) ? r.eta : 0)));
      e.eta.textContent = live ? BP.fmt.dur(eta) : st === "finished" ? "done" : "–";
      const p = runs.reduce((a, r) => a + (finite(r.progress) ? r.progress : 0), 0) / runs.length;
      this._progress(st === "finished" ? 1 : p);
    }

    _progress(p) {
      const pct = Math.round(Math.max(0, Math.min(1, p)) * 1000) / 10;
      this.el.progress.querySelector(".bar").style.width = pct + "%";
      this.el.progress.setAttribute("aria-valuenow", String(pct));
    }

    updateDownloads() {
      const e = this.el, id = this.jobId;
      const n = this.runs.filter(Boolean).length;
      if (n > 1) {
        const labels = this.runs.map((r, i) => (r && r.label) || "run " + (i + 1));
        const current = e.dlRun.value;
        if (e.dlRun.options.length !== n || Array.from(e.dlRun.options).some((o, i) => o.text !== labels[i])) {
          e.dlRun.innerHTML = "";
          labels.forEach((l, i) => e.dlRun.add(new Option(l, String(i))));
          if (current && +current < n) e.dlRun.value = current;
        }
      }
      e.dlRun.hidden = n <= 1;
      const run = n > 1 ? e.dlRun.value || "0" : "0";
      const links = [[e.csv, "history.csv?run=" + run], [e.json, "history.json"], [e.npz, "model.npz?run=" + run]];
      for (const [a, path] of links) {
        if (id) {
          a.href = "/jobs/" + encodeURIComponent(id) + "/" + path;
          a.removeAttribute("aria-disabled");
        } else {
          a.removeAttribute("href");
          a.setAttribute("aria-disabled", "true");
        }
      }
    }

    updateShare() {
      this.el.share.value = this.watchUrl || "";
      this.el.copy.disabled = !this.watchUrl;
    }

    async copyShare() {
      const url = this.el.share.value;
      if (!url) return;
      try {
        await navigator.clipboard.writeText(url);
        this.setMessage("Read-only link copied: anyone with it can watch this run live.", "success");
      } catch (err) {
        this.el.share.focus();
        this.el.share.select();
        this.setMessage("Select the link and copy it (Ctrl+C): anyone with it can watch this run live.", "muted");
      }
    }
  }
  BP.JobView = JobView;

  function cap(s) {
    s = String(s || "");
    return s.charAt(0).toUpperCase() + s.slice(1);
  }
  BP.cap = cap;

  // ---------------------------------------------------------------------------------------------
  /** Loss-chart series for the simple tasks (function, surface, classification): train and validation per step. */
  BP.lossSeries = function () {
    return [
      { name: "training", line: { color: BP.colors.train, width: 1.6 }, smooth: true, ghost: true,
        hovertemplate: "step %{x}<br>training loss %{y:.4g}<extra></extra>" },
      { name: "validation", line: { color: BP.colors.val, width: 1.6 }, smooth: true, ghost: true,
        hovertemplate: "step %{x}<br>validation loss %{y:.4g}<extra></extra>" },
    ];
  };

  /** Gradient-norm chart: one trace per layer, log scale, zero norms drawn as gaps. */
  class NormsChart {
    constructor(id, opts) {
      this.chart = new SeriesChart(id, merge({
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
      this.chart.reset(names.map((n, i) => ({
        name: n.replace("Linear", "Dense").replace("Conv2d", "Conv"), line: { color: BP.layerColor(i, names.length), width: 1.6 },
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

  /** Standard page wiring for a single-run task page: settings form + job view. */
  /** The handlers every single-run page shares: loss curves per step, gradient norms, lr markers; spread them
   * first into a page's handlers and override what the page does differently. */
  BP.lossAndNorms = function (loss, norms) {
    return {
      steps(run, ev) {
        loss.push(0, ev.step, ev.loss);
        if (ev.val_loss) loss.push(1, ev.step, ev.val_loss);
      },
      norms(run, ev) {
        norms.push(ev);
      },
      lr(run, ev) {
        loss.marker(ev.step, "lr " + BP.fmt.num(ev.lr, 3));
      },
      eval() {},
      done() {},
    };
  };

  BP.simplePage = function (handlers) {
    const form = new SettingsForm($("form.settings"));
    const job = new JobView({
      page: BP.data.page, handlers, form: () => form,
      payload: () => ({ config: form.values() }),
    });
    form.onSubmit = () => job.start();
    BP.wireExamples(form, job);
    BP.job = job; // for the console and the browser tests
    return { form, job };
  };
})();
