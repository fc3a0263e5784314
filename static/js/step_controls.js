/* Step, Step epoch and Rewind beside Start (the controls macro with stepping=True), for the page's own job:
 *   Start paused   Start makes the job (data, the network at its initial weights) and waits at step 0 (the
 *                  step-by-step page; the experiment pages show the row while their run is paused)
 *   Step           one minibatch from paused, then paused again (`step {job_id, steps: 1}`)
 *   Step epoch     the minibatches up to the end of the current epoch (`steps: "epoch"`)
 *   Rewind         the same start again: the same initial weights and data order (the same seed), paused at
 *                  step 0, with the "Learning rate now" field's value if it was changed (`rewind {job_id, lr}`),
 *                  so "the same start with another learning rate" is one click.
 * Keys (when no field has the focus): S steps, E steps an epoch, R rewinds.
 */
(function () {
  "use strict";
  const $ = BP.$;

  BP.views.register("step-controls", (page) => {
    const el = { row: $("#step-buttons"), step: $("#btn-step"), epoch: $("#btn-step-epoch"), rewind: $("#btn-rewind"), paused: $("#start-paused"), lr: $("#live-lr") };
    if (!el.step) return {};
    // Start sends paused: true when asked to (page.options is read by the job view, made after the views)
    const payload = page.options.payload;
    page.options.payload = () => {
      const p = payload();
      if (p && el.paused && el.paused.checked) p.paused = true;
      return p;
    };
    let busy = false, lastLr = null;
    const job = () => page.job;
    const mine = () => job() && job().owner && job().connected && !!job().jobId;

    function update() {
      const j = job();
      if (!j) return;
      el.step.disabled = el.epoch.disabled = busy || !(mine() && j.state === "paused");
      el.rewind.disabled = busy || !(mine() && ["paused", "running", "finished", "stopped", "failed"].includes(j.state));
      if (el.paused) el.paused.disabled = j.readOnly || ["starting", "created", "running", "paused"].includes(j.state);
      // the experiment pages show the row while their own run is paused (Start paused is the step-by-step page's)
      else el.row.hidden = !(mine() && j.state === "paused");
    }

    async function step(steps) {
      const j = job();
      if (!mine() || j.state !== "paused" || busy) return;
      busy = true;
      update();
      const ack = await j.call("step", { job_id: j.jobId, steps });
      busy = false;
      if (!ack.ok) j.setMessage(BP.cap(ack.message || "the step was refused"), "error");
      update();
      if (document.activeElement === document.body) (steps === 1 ? el.step : el.epoch).focus();
    }

    async function rewind() {
      const j = job();
      if (el.rewind.disabled) return;
      const data = { job_id: j.jobId }, lr = parseFloat(el.lr.value);
      if (isFinite(lr) && lr !== lastLr) data.lr = lr;
      busy = true;
      await j.launch("rewind", data);
      busy = false;
      update();
      el.rewind.focus();
    }

    el.step.addEventListener("click", () => step(1));
    el.epoch.addEventListener("click", () => step("epoch"));
    el.rewind.addEventListener("click", rewind);
    document.addEventListener("keydown", (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test((e.target.tagName || ""))) return;
      const key = e.key.toLowerCase();
      if (key === "s" && !el.step.disabled) step(1);
      else if (key === "e" && !el.epoch.disabled) step("epoch");
      else if (key === "r" && !el.rewind.disabled) rewind();
    });

    return {
      controls: update,
      steps(run, ev) {
        if (run === 0 && ev.lr !== undefined) lastLr = Array.isArray(ev.lr) ? ev.lr[ev.lr.length - 1] : ev.lr;
      },
      dataset(run, ev) {
        if (run === 0 && ev.config) lastLr = ev.config.lr;
      },
      lr(run, ev) {
        if (run === 0) lastLr = ev.lr;
      },
    };
  });
})();
