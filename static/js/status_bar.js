/* The status bar above the charts: the state pill, epoch / step / speed / ETA counters, the progress bar
 * and the message line. Drawn at most once per frame from the runs' latest numbers. */
(function () {
  "use strict";
  const $ = BP.$, finite = BP.finite, fmt = BP.fmt;

  class StatusBar {
    constructor() {
      this.el = {
        state: $("#st-state"), epoch: $("#st-epoch span"), step: $("#st-step span"), speed: $("#st-speed span"),
        eta: $("#st-eta span"), progress: $("#st-progress"), message: $("#message"),
      };
      this.line = null; // while waiting for a slot: the place in line (waiting_line.js)
    }

    setMessage(text, kind) {
      this.el.message.textContent = text;
      this.el.message.dataset.kind = kind || "muted";
    }

    get messageKind() {
      return this.el.message.dataset.kind;
    }

    /** Redraw on the next frame: `state` the job's state, `runs` [{step, epoch, epochs, total, sps, eta, progress}]. */
    render(state, runs) {
      BP.render.request("status", () => this._render(state, runs.filter(Boolean)));
    }

    _render(st, runs) {
      const e = this.el;
      e.state.textContent = st === "idle" ? "ready" : st;
      e.state.dataset.state = st;
      e.progress.dataset.state = st;
      if (st === "queued" && this.line) { // "2nd in line", "about 40 s"
        e.state.textContent = this.line.place + " in line";
        e.epoch.textContent = e.step.textContent = e.speed.textContent = "–";
        e.eta.textContent = BP.WaitingLine.about(this.line.wait);
        this._progress(0);
        return;
      }
      if (!runs.length || st === "starting") {
        e.epoch.textContent = e.step.textContent = e.speed.textContent = e.eta.textContent = "–";
        this._progress(0);
        return;
      }
      const r0 = runs[0], live = st === "running";
      const step = Math.max(...runs.map((r) => r.step || 0));
      const epoch = Math.max(...runs.map((r) => r.epoch || 0));
      e.epoch.textContent = (finite(epoch) ? epoch.toFixed(epoch >= 10 ? 1 : 2) : "–") + " / " + (r0.epochs || "–");
      e.step.textContent = fmt.int(step) + " / " + fmt.int(r0.total);
      const sps = runs.reduce((a, r) => a + (finite(r.sps) ? r.sps : 0), 0);
      e.speed.textContent = live && sps > 0 ? fmt.int(sps) + " samples/s" : "–";
      // no estimate yet (just reloaded: the next report brings one) reads "–", not "0 s"
      const etas = runs.map((r) => r.eta).filter(finite);
      e.eta.textContent = live && etas.length ? fmt.dur(Math.max(...etas)) : st === "finished" ? "done" : "–";
      const p = runs.reduce((a, r) => a + (finite(r.progress) ? r.progress : 0), 0) / runs.length;
      this._progress(st === "finished" ? 1 : p);
    }

    _progress(p) {
      const pct = Math.round(Math.max(0, Math.min(1, p)) * 1000) / 10;
      this.el.progress.querySelector(".bar").style.width = pct + "%";
      this.el.progress.setAttribute("aria-valuenow", String(pct));
    }

    /** The message line for a job that is now in `state` (with the engine's `message`); ctx: {runs, readOnly,
     *  fromHistory}. A watcher is told what happens, not what to change. */
    say(state, message, ctx) {
      const runs = ctx.runs, steps = fmt.int(runs.length ? Math.max(...runs.map((r) => (r && r.step) || 0)) : 0);
      if (state === "failed") {
        this.setMessage("Training failed: " + (message || "unknown error"), "error");
      } else if (state === "stopped") {
        this.setMessage(BP.cap(message || "stopped") + " at step " + steps + "." +
          (ctx.readOnly ? "" : " Change the settings and start again."), "muted");
      } else if (state === "finished" && ctx.kind === "loaded") {
        this.setMessage(StatusBar.loaded(runs, message, ctx.readOnly), "success");
      } else if (state === "finished") {
        const warning = runs.map((r) => r && r.warning).find(Boolean);
        const note = [message, warning].filter(Boolean).join(" ");
        this.setMessage(StatusBar.summary(runs, note), note ? "warn" : "success");
      } else if (state === "paused") {
        const next = document.getElementById("btn-step") ? ": Step runs one more minibatch (key S), Step epoch the rest of the epoch (E), " +
          "Rewind starts again from the same weights (R); or change the learning rate and resume."
          : ": change the learning rate or the speed if you like, then resume.";
        this.setMessage("Paused at step " + steps + (ctx.readOnly ? "." : next), "muted");
      } else if (state === "running") {
        if (ctx.fromHistory && ctx.readOnly) this.setMessage("Watching live: the charts follow the run as it trains.", "muted");
        else if (!ctx.fromHistory || this.messageKind !== "error") this.setMessage(ctx.readOnly ? "Watching live." : "Training… the charts update live.", "muted");
      }
    }

    /** The message of a model loaded from a file: what it does on its setup's data, and what one may do. */
    static loaded(runs, message, readOnly) {
      const f = runs[0] && runs[0].final;
      let text = BP.cap(message || "loaded") + ".";
      if (f) {
        text = BP.cap((message || "loaded").split(":")[0]) + ": on this setup's data, validation loss " + fmt.num(f.val_loss, 4);
        if (finite(f.val_acc)) text += ", validation accuracy " + fmt.pct(f.val_acc);
        if (finite(f.test_acc)) text += ", test accuracy " + fmt.pct(f.test_acc);
        text += ".";
      }
      if (!readOnly) text += " To train it further, tick “Train on from this model” and press Start.";
      return text;
    }

    /** The message of a finished job: its time and final metrics (one run) or how many runs completed. */
    static summary(runs, note) {
      const done = runs.filter((r) => r.final);
      if (!done.length) return "Finished." + (note ? " " + note : "");
      const secs = Math.max(...done.map((r) => r.final.seconds || 0));
      let text = "Finished in " + fmt.dur(secs);
      if (runs.length === 1) {
        const f = done[0].final;
        text += ": validation loss " + fmt.num(f.val_loss, 4);
        if (finite(f.val_acc)) text += ", validation accuracy " + fmt.pct(f.val_acc);
        if (finite(f.test_acc)) text += ", test accuracy " + fmt.pct(f.test_acc);
        text += ".";
        if (done[0].verdict) text += " Verdict: " + done[0].verdict.title.toLowerCase() + "."; // (its words: below)
      } else {
        text += ": " + done.length + " of " + runs.length + " runs completed.";
      }
      if (note) text += " " + note;
      return text;
    }
  }
  BP.StatusBar = StatusBar;
})();
