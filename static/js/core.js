/* bpnet dashboard, shared core: the BP namespace, the page's data, tiny DOM and object helpers, and the
 * frame scheduler every chart draws through.
 *
 * The dashboard's scripts are plain scripts (no build step), loaded in this order by _experiment.html:
 *   core.js          BP.data, BP.$ / BP.$$, BP.finite, BP.merge, BP.cap, BP.escapeHtml, BP.render, BP.idle, BP.thin
 *   format.js        BP.fmt: numbers, percentages, durations
 *   colors.js        BP.colors, BP.runColor, BP.layerColor
 *   charts.js        Plotly config and layout, BP.newPlot / BP.react, BP.describe (a chart's text
 *                    alternative), BP.Layered (a chart with an overlay)
 *   series_chart.js  BP.SeriesChart (live line charts), BP.lossTools, BP.lossSeries
 *   norms.js         BP.NormsChart (gradient norms per layer)
 *   settings_form.js BP.SettingsForm (the form generated from the schema), BP.wireExamples
 *   socket.js        BP.Connection (Socket.IO with acks and a connection badge)
 *   status_bar.js    BP.StatusBar (state pill, counters, progress, message line)
 *   job_tools.js     BP.JobTools (downloads and the share link)
 *   run_controls.js  BP.RunControls (the live learning rate and the speed beside Start)
 *   elsewhere.js     BP.Elsewhere (a Start refused for a run going elsewhere: go to it, stop it)
 *   focus.js         BP.FocusKeeper (the keyboard focus stays on a control as buttons are disabled)
 *   job_feed.js      BP.jobFeed (each run's progress record; a history replayed through the page's handlers)
 *   job_view.js      BP.JobView (Start / Pause / Stop, history + events in seq order)
 *   page.js          BP.views (a page's views register here), BP.page (mounts form, job and views)
 *   help.js          "What am I looking at?" on every chart and the settings' glossary, on demand
 *   verdict.js       the engine's verdict on each run that has ended
 * then the page's own views (function.js, surface.js, ...), on the pages with the X-ray of a step the X-ray's
 * (templates/_xray.html `xray_views`: xray_model.js reads an X-ray into a network, chain_rule.js, net_diagram.js,
 * xray_tables.js, xray_panel.js, step_controls.js, heatmap.js, unit_pictures.js, weight_images.js,
 * distributions.js), and last setup_link.js (the settings a link
 * brought into the form, "Copy link to this setup"). A new view or panel is a new file that calls
 * BP.views.register(...) (see page.js), added to the page's script list.
 */
(function () {
  "use strict";

  const BP = (window.BP = window.BP || {});
  BP.data = JSON.parse(document.getElementById("bp-data").textContent);

  BP.$ = (sel, root) => (root || document).querySelector(sel);
  BP.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  BP.finite = (v) => typeof v === "number" && isFinite(v);

  function isObj(v) {
    return v && typeof v === "object" && !Array.isArray(v);
  }
  /** A deep merge of plain objects (b wins); arrays and other values are replaced, not merged. */
  BP.merge = function merge(a, b) {
    const out = Object.assign({}, a);
    for (const k of Object.keys(b || {})) out[k] = isObj(a[k]) && isObj(b[k]) ? merge(a[k], b[k]) : b[k];
    return out;
  };

  BP.cap = function (s) {
    s = String(s || "");
    return s.charAt(0).toUpperCase() + s.slice(1);
  };

  BP.escapeHtml = function (s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  };

  // One redraw per animation frame at most, and never more than the machine can take: after a round of
  // redraws that took t ms of drawing, the next round waits about 3 t, so drawing uses at most ~25 % of the
  // page's time and a slow or busy computer gets fewer, larger updates instead of a frozen page. Requests made
  // meanwhile are merged (the latest fn per key wins), so no data is lost: the latest state is drawn. A round's
  // charts are drawn one after another in frames of their own once SLICE ms are used, so that clicks, keys and
  // the socket's messages get through between two charts instead of waiting for all of them.
  // Each key's redraws are also kept `spacing` (default 3) times its own last cost apart: a costly chart is drawn
  // less often while the cheap ones keep their pace. {settle: true}: the cost counts until the next frame has
  // been drawn (a WebGL chart, such as the 3-D surface, does its drawing in the frame after its redraw).
  // A redraw over HEAVY ms is the last of its frame (see run).
  BP.render = (function () {
    const SLICE = 30, HEAVY = 8, SPACING = 3, BACKOFF = 3;
    const jobs = new Map(), later = new Map();
    let round = null, scheduled = false, cost = 0, spent = 0, notBefore = 0;
    function schedule() {
      if (scheduled) return;
      scheduled = true;
      const wait = notBefore - performance.now();
      if (wait > 0) setTimeout(() => requestAnimationFrame(run), wait);
      else requestAnimationFrame(run);
    }
    function run() {
      scheduled = false;
      if (!round) {
        round = new Map(jobs);
        jobs.clear();
        spent = 0;
      }
      const start = performance.now();
      for (const [key, fn] of round) {
        if (performance.now() - start > SLICE) break; // the rest in the next frame
        round.delete(key);
        const t = performance.now();
        fn();
        const pace = later.get(key), took = performance.now() - t, heavy = took > HEAVY;
        pace.last = took;
        // a Plotly redraw goes on in promise callbacks after fn returns (often as long again), in this same
        // task: a heavy redraw ends this frame's batch, and its cost counts once those callbacks have run
        if (pace.settle) requestAnimationFrame(() => setTimeout(() => (pace.last = performance.now() - t), 0));
        else if (heavy) setTimeout(() => (pace.last = performance.now() - t), 0);
        if (heavy) break;
      }
      spent += performance.now() - start;
      if (round.size) {
        scheduled = true;
        requestAnimationFrame(run);
        return;
      }
      round = null;
      cost = 0.6 * cost + 0.4 * spent;
      notBefore = performance.now() + BACKOFF * cost;
      if (jobs.size) schedule();
    }
    function paced(key, fn, opts) {
      let pace = later.get(key);
      if (!pace) later.set(key, (pace = { last: 0, at: 0, timer: null, fn: null }));
      const spacing = (opts && opts.spacing) || SPACING;
      pace.settle = !!(opts && opts.settle);
      pace.fn = fn;
      if (pace.timer) return true; // already waiting: the latest fn is drawn when it is due
      const due = pace.at + spacing * pace.last - performance.now();
      if (due <= 0) return false;
      pace.timer = setTimeout(() => {
        pace.timer = null;
        enqueue(key, pace.fn);
      }, due);
      return true;
    }
    function enqueue(key, fn) {
      const pace = later.get(key);
      const wrapped = pace ? () => { pace.at = performance.now(); fn(); } : fn;
      if (round && round.has(key)) round.set(key, wrapped);
      else {
        jobs.set(key, wrapped);
        schedule();
      }
    }
    return {
      request(key, fn, opts) {
        const queued = jobs.has(key) || (round && round.has(key)); // (then its fn is replaced in place)
        if (!queued && paced(key, fn, opts)) return;
        enqueue(key, fn);
      },
      /** Draw every pending redraw now, unpaced: a run that pauses or ends shows its last step at once. */
      flush() {
        const pending = new Map(round || []);
        for (const [key, fn] of jobs) pending.set(key, fn);
        for (const [key, pace] of later) {
          if (!pace.timer) continue;
          clearTimeout(pace.timer);
          pace.timer = null;
          pending.set(key, pace.fn);
        }
        round = null;
        jobs.clear();
        for (const [key, fn] of pending) {
          const pace = later.get(key);
          if (pace) pace.at = performance.now();
          fn();
        }
      },
    };
  })();

  /** Call fn once the page is idle (after it has loaded and drawn), for work worth doing before the user needs
   *  it; BP.idle.pending counts the calls still to come. */
  BP.idle = function (fn) {
    BP.idle.pending += 1;
    const run = () => {
      try {
        fn();
      } finally {
        BP.idle.pending -= 1;
      }
    };
    if (window.requestIdleCallback) requestIdleCallback(run, { timeout: 2000 });
    else setTimeout(run, 200);
  };
  BP.idle.pending = 0;

  /** At most `limit` items of an array, evenly spread (for drawing; the data itself is not changed). */
  BP.thin = function (arr, limit) {
    if (!arr || arr.length <= limit) return arr;
    const out = [], step = arr.length / limit;
    for (let i = 0; i < limit; i++) out.push(arr[Math.floor(i * step)]);
    return out;
  };
})();
