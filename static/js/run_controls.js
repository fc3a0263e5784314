/* The controls a run's owner changes while it trains: the learning rate box and the speed buttons beside
 * Start. Before a run they set what Start sends; during it they act at once (set_lr, set_pace) and show the
 * job's own values again when a change is refused, so the boxes never hold a value the run does not use. */
(function () {
  "use strict";
  const $ = BP.$, $$ = BP.$$, finite = BP.finite, fmt = BP.fmt;

  class RunControls {
    /** job: the JobView (call, jobId, setMessage). */
    constructor(job) {
      this.job = job;
      this.el = { lr: $("#live-lr"), lrBtn: $("#btn-lr"), paces: $$("input[name=pace]") };
      this.lr = null; // the run's learning rate (last reported)
      this.lrEdited = false;
      this.live = false;
      const e = this.el;
      e.lrBtn.addEventListener("click", () => this.applyLr());
      e.lr.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") this.applyLr();
      });
      e.lr.addEventListener("input", () => (this.lrEdited = true));
      this.paceNow = this.pace();
      for (const r of e.paces) r.addEventListener("change", () => r.checked && this.applyPace(+r.value));
    }

    /** The speed chosen (steps per second at most, 0: no limit). */
    pace() {
      const on = this.el.paces.find((r) => r.checked);
      return on ? +on.value : 0;
    }

    /** live: the owner's run is running or paused (the lr box works only then; the speed also before it). */
    update(mine, live, readOnly) {
      this.live = mine && live;
      this.el.lr.disabled = this.el.lrBtn.disabled = !this.live;
      for (const r of this.el.paces) r.disabled = readOnly || (!!this.job.jobId && ["running", "paused"].includes(this.job.state) && !mine);
    }

    showLr(lr) {
      if (!finite(lr)) return;
      this.lr = lr;
      if (!this.lrEdited && document.activeElement !== this.el.lr) this.el.lr.value = +lr.toPrecision(6);
    }

    _restoreLr() {
      this.lrEdited = false;
      if (this.lr !== null) this.el.lr.value = +this.lr.toPrecision(6);
    }

    /** Show a speed (from the job's history or a pace event): the button of that value, added if need be. */
    showPace(pace) {
      if (!finite(pace)) return;
      let r = this.el.paces.find((x) => +x.value === pace);
      if (!r) return;
      r.checked = true;
      this.paceNow = pace;
    }

    async applyLr() {
      if (!this.job.jobId || this.el.lrBtn.disabled) return;
      const input = this.el.lr, raw = input.value.trim();
      if (raw === "" || input.validity.badInput) {
        this._restoreLr();
        this.job.setMessage("Learning rate not changed: type a number from " + input.min + " to " + input.max + ".", "error");
        return;
      }
      const ack = await this.job.call("set_lr", { job_id: this.job.jobId, lr: Number(raw) });
      if (ack.ok) {
        this.lrEdited = false;
        this.lr = ack.lr;
        this.job.setMessage("Learning rate set to " + fmt.num(ack.lr, 4) + " from the next step.", "success");
      } else {
        this._restoreLr();
        this.job.setMessage("Learning rate not changed: " + fieldMessage(ack, "lr", "it") + ".", "error");
      }
    }

    async applyPace(pace) {
      const text = pace ? pace + " steps per second at most" : "as fast as the server can";
      if (!this.live) { // not running: the speed the next Start asks for
        this.paceNow = pace;
        if (!this.job.jobId || !["running", "paused"].includes(this.job.state)) this.job.setMessage("Speed: " + text + ".", "muted");
        return;
      }
      const ack = await this.job.call("set_pace", { job_id: this.job.jobId, pace });
      if (ack.ok) {
        this.paceNow = ack.pace;
        this.job.setMessage("Speed set: " + text + ".", "success");
      } else {
        this.showPace(this.paceNow);
        this.job.setMessage("Speed not changed: " + fieldMessage(ack, "pace", "it") + ".", "error");
      }
    }
  }

  /** A refusal in words: the field's own message ("it must be between ...") rather than the raw summary. */
  function fieldMessage(ack, field, subject) {
    const msg = ack.errors && ack.errors[field];
    return msg ? subject + " " + msg : ack.message || "the server refused";
  }
  BP.fieldMessage = fieldMessage;
  BP.RunControls = RunControls;
})();
