/* What a job's history and events mean for the page that shows it: each run's progress record (step, epoch,
 * speed, time left, its end) and the history replayed through the page's handlers, in the order its events
 * came live, so a reload or a late watcher draws what a watcher from the start saw.
 *
 *   BP.jobFeed.runsOf(history)          the runs' records of a history
 *   BP.jobFeed.replay(handlers, history) every stored series, evaluation, snapshot and end, through the handlers
 *   BP.jobFeed.track(runs, ev)           a live 'dataset', 'steps' or 'done' event folded into its run's record
 */
(function () {
  "use strict";

  function runsOf(h) {
    return h.runs.map((r) => ({
      label: r.label, total: r.total_steps, step: r.step, spe: r.dataset.steps_per_epoch,
      epochs: r.dataset.config.epochs, sps: null, eta: null, final: r.final, failure: r.failure, verdict: r.verdict,
      warning: r.dataset.warning, progress: r.total_steps ? r.step / r.total_steps : 0,
      epoch: r.dataset.steps_per_epoch ? r.step / r.dataset.steps_per_epoch : null,
    }));
  }

  function replay(handlers, h) {
    const H = handlers;
    h.runs.forEach((r, i) => {
      const tag = (e) => Object.assign({ run: i }, e);
      H.dataset(i, tag(r.dataset));
      const s = r.steps;
      if (s && s.step && s.step.length) H.steps(i, tag(s), true);
      for (const e of r.evals || []) H.eval(i, tag(e));
      for (const n of r.norms || []) H.norms(i, tag(n));
      if (H.lr) for (const [step, lr] of r.lr_changes || []) H.lr(i, { run: i, step, lr });
      for (const d of r.dists || []) H.dists(i, tag(d));
      if (r.snapshot) H.snapshot(i, tag(r.snapshot));
      if (r.final) H.done(i, Object.assign({ run: i, verdict: r.verdict }, r.final));
      else if (r.failure) H.done(i, { run: i, failed: r.failure, steps: r.step, verdict: r.verdict });
    });
  }

  function track(runs, ev) {
    const r = ev.run || 0, run = runs[r] || (runs[r] = {});
    if (ev.type === "dataset") {
      Object.assign(run, { label: ev.label, total: ev.total_steps, step: 0, spe: ev.steps_per_epoch,
        epochs: ev.config.epochs, progress: 0, warning: ev.warning });
    } else if (ev.type === "steps") {
      const n = ev.step.length;
      if (n) {
        run.step = ev.step[n - 1];
        run.epoch = ev.epoch[n - 1];
      }
      Object.assign(run, { sps: ev.samples_per_sec, eta: ev.eta, progress: ev.progress });
    } else if (ev.type === "done") {
      if (ev.failed) run.failure = ev.failed;
      else run.final = ev;
      Object.assign(run, { verdict: ev.verdict, sps: null, eta: 0 });
    }
    return run;
  }

  BP.jobFeed = { runsOf, replay, track };
})();
