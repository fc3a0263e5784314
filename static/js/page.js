/* A page: one job view, its settings, and the views that draw the job's events.
 *
 * A view is anything that shows part of a job (a chart, a table, a panel): a file registers it with
 *
 *     BP.views.register("fit", (page) => ({ reset(nRuns, history) {...}, dataset(run, ev) {...}, ... }));
 *
 * and, once every script has run, the page is mounted: each registered factory is called once with the page
 * ({form, job, data}; `job` is set before any event arrives) and returns its handlers. Every job event goes
 * to every view that has a handler of that name, in registration order: reset(nRuns, history),
 * config(config, history), dataset(run, ev), steps(run, ev, fromHistory), eval, snapshot, norms, lr, done
 * (run, ev), the X-ray's xray_ready and dists (run, ev), controls(job) whenever the job's controls are
 * updated (its state, ownership or connection changed), and state(state, message, fromHistory) (the job's). A new view needs no change elsewhere: a new file, listed in the page's scripts (its template's
 * `views`), with its card in the page's charts (or created by the view itself in BP.page.slot()).
 *
 * A page with its own settings (compare) calls BP.page.setup({form, payload, resetForm, onControls, applySetup,
 * linkParams}) first: applySetup(setup) prepares its form for a setup link's values (setup_link.js),
 * linkParams() the parameters a link to its setup needs besides the settings.
 */
(function () {
  "use strict";
  const $ = BP.$;
  const HANDLERS = ["reset", "config", "dataset", "steps", "eval", "snapshot", "norms", "lr", "done", "xray_ready", "dists",
    "controls", "state"];

  const registered = [];
  BP.views = {
    /** Add a view to this page: factory(page) -> {handler name: fn}. */
    register(name, factory) {
      if (registered.some((v) => v.name === name)) throw new Error("view " + name + " registered twice");
      registered.push({ name, factory });
    },
    names: () => registered.map((v) => v.name),
  };

  let options = null;
  BP.page = {
    /** Options of the page's job: form() the SettingsForm in use, payload() what Start sends, resetForm(),
     *  onControls(locked). Without them: the page's one settings form, sending {config}. */
    setup(opts) {
      options = opts;
    },
    /** Where a view may put a card of its own: the page's chart grid. */
    slot: () => $(".charts"),
  };

  /** The handlers of every view, merged: one function per event name calling each view that has it. */
  function fanOut(views) {
    const out = {};
    for (const name of HANDLERS) {
      const fns = views.map((v) => v[name]).filter(Boolean);
      out[name] = (...args) => {
        for (const fn of fns) fn(...args);
      };
    }
    return out;
  }

  function mount() {
    // on a phone the settings start folded away: the status and the charts come first
    const settings = $("#settings");
    if (settings && window.matchMedia("(max-width: 860px)").matches) settings.open = false;
    const page = { data: BP.data, form: null, job: null };
    let opts = options;
    if (!opts) {
      const form = new BP.SettingsForm($("form.settings"));
      page.form = form;
      opts = { form: () => form, payload: () => ({ config: form.values() }) };
      // the settings of a run shown again (a reload, a shared link) go back into the form, before any other
      // view hears of them
      registered.unshift({ name: "settings", factory: () => ({ config: (cfg) => form.fill(cfg) }) });
    }
    page.form = page.form || opts.form();
    page.options = opts;
    const views = registered.map((v) => v.factory(page) || {});
    const job = new BP.JobView(Object.assign({ page: BP.data.page, handlers: fanOut(views) }, opts));
    page.job = job;
    if (!options) {
      page.form.onSubmit = () => job.start();
      BP.wireExamples(page.form, job);
    }
    BP.job = job; // for the console and the browser tests
    BP.page.current = page;
  }
  document.addEventListener("DOMContentLoaded", mount);

  // --- views most pages share --------------------------------------------------------------------
  /** The loss chart `id` (its log and smoothing tools wired): training and validation loss per step, and a
   *  marker where the learning rate changed. */
  BP.lossView = function (id, yTitle) {
    const loss = new BP.SeriesChart(id, {
      layout: { xaxis: { title: { text: "step" } }, yaxis: { title: { text: yTitle }, exponentformat: "power" }, hovermode: "x unified" },
    });
    BP.lossTools(loss, id);
    return {
      reset() {
        loss.reset(BP.lossSeries());
      },
      steps(run, ev) {
        loss.push(0, ev.step, ev.loss);
        if (ev.val_loss) loss.push(1, ev.step, ev.val_loss);
      },
      lr(run, ev) {
        loss.marker(ev.step, "lr " + BP.fmt.num(ev.lr, 3));
      },
    };
  };

  /** Gradient norms per layer (BP.NormsChart). */
  BP.normsView = function (norms) {
    return {
      reset() {
        norms.reset();
      },
      dataset(run, ev) {
        norms.layers(ev.layers);
      },
      norms(run, ev) {
        norms.push(ev);
      },
    };
  };
})();
