/* The job a page shows: its controls (Start / Pause / Stop / live learning rate), the history and the live
 * events in seq order (a gap asks for the history again), reconnects, and the handlers that draw them. */
(function () {
  "use strict";
  const $ = BP.$, cap = BP.cap;
  const ACTIVE = ["starting", "queued", "created", "running", "paused"];

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
      this.watchUrl = "";
      this.storageKey = "bpnet.job." + opts.page;
      this.status = new BP.StatusBar();
      this.tools = new BP.JobTools((text, kind) => this.setMessage(text, kind));
      this.kind = null; // the shown job's kind ("train", "compare:...", "loaded": a model loaded from a file)
      this.el = { start: $("#btn-start"), pause: $("#btn-pause"), stop: $("#btn-stop"), reset: $("#btn-reset") };
      this.elsewhere = new BP.Elsewhere(this);
      this.focus = new BP.FocusKeeper([this.el.pause, this.el.stop, this.el.start], () => this.live.el.paces.find((r) => r.checked));
      this.live = new BP.RunControls(this);
      this.models = new BP.ModelFile(this);
      this._wire();
      this.conn = new BP.Connection($("#st-conn"), {
        connect: () => this._connected(),
        disconnect: () => this.updateControls(),
        history: (h) => this._history(h),
        events: (list) => this._events(list),
      });
      this.socket = this.conn.socket;
      this.line = new BP.WaitingLine(this);
      this.updateControls();
    }

    get connected() {
      return this.conn ? this.conn.connected : false;
    }

    call(event, data, timeout) {
      return this.conn.call(event, data, timeout);
    }

    // --- wiring ---------------------------------------------------------------------------------
    _wire() {
      const e = this.el;
      e.start.addEventListener("click", () => this.start());
      e.pause.addEventListener("click", () => this.control(this.state === "paused" ? "resume" : "pause"));
      e.stop.addEventListener("click", () => this.control("stop"));
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

    _connected() {
      // the run shown again: a watched one, this page's own, one named by ?job= (a link to one's running
      // job from another page), or the one this tab ran here before (sessionStorage), unless the page was
      // opened from another setup link (a lesson's) than that run: then the link's settings stay in the form
      const asked = new URLSearchParams(location.search).get("job");
      const otherLink = BP.data.setup && BP.data.setup.given && sessionStorage.getItem(this.storageKey + ".link") !== location.search;
      const id = this.readOnly ? BP.data.watch : this.jobId || asked || (otherLink ? null : sessionStorage.getItem(this.storageKey));
      if (id) this.watch(id, !this.jobId && !this.readOnly).then(() => (this.settled = true));
      else this.settled = true; // `settled`: the page shows what it will show (tests wait for it)
      this.updateControls();
    }

    // --- actions --------------------------------------------------------------------------------
    canStart() {
      return !this.readOnly && this.connected && !ACTIVE.includes(this.state);
    }

    async start() {
      if (!this.canStart()) return;
      this.opts.form().clearErrors();
      const payload = this.opts.payload();
      if (!payload) return;
      if (payload.config) payload.config.pace = this.live.pace(); // the speed beside Start
      const initFrom = this.models.initFrom();
      if (initFrom) payload.init_from = initFrom;
      await this.launch("start", payload);
    }

    /** Ask the server for a new job of this page (`start`, or `rewind`: the same start again) and take it
     *  over: its history comes before the ack, and the page follows it. */
    async launch(event, payload) {
      const form = this.opts.form();
      this.elsewhere.hide();
      const previous = { jobId: this.jobId, state: this.state };
      this.jobId = null;
      this.state = "starting";
      this.setMessage(event === "rewind" ? "Rewinding: the same initial weights and data order again…"
        : "Starting: preparing the data and the network…", "muted");
      this.updateControls();
      this.renderStatus();
      const ack = await this.call(event, payload, 120000);
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
          if (ack.job_id) this.elsewhere.show(ack);
        }
        this.updateControls();
        this.renderStatus();
        return;
      }
      if (ack.queued) { // every slot is busy: it waits in line (waiting_line.js) and starts by itself
        if (this.jobId === null) this.jobId = previous.jobId;
        this.line.before = previous.state; // the state shown again should it leave the line
        this.line.update(ack);
        return;
      }
      this._own(ack.job_id, ack.watch_url);
    }

    /** The job this page started (now, or from the line) is its own: controls, share link, kept on reload. */
    _own(jobId, watchUrl) {
      if (this.jobId !== jobId) this._adopt(jobId);
      this.owner = true;
      this.watchUrl = this._watchLink(watchUrl);
      sessionStorage.setItem(this.storageKey, jobId);
      sessionStorage.setItem(this.storageKey + ".link", location.search); // a reload of this link shows it again
      this.tools.updateShare(this.watchUrl);
      this.updateControls();
    }

    /** The run waiting in line has started: take it up here (its history comes on 'watch'). */
    adoptStarted(jobId) {
      this.status.line = null;
      this.state = "starting";
      this.setMessage("A training slot is free: starting your run…", "muted");
      this._own(jobId, "/watch/" + encodeURIComponent(jobId));
      this.watch(jobId);
    }

    async control(action) {
      if (action === "stop" && this.line.waiting) return this.line.leave();
      if (!this.jobId) return;
      const ack = await this.call(action, { job_id: this.jobId });
      if (!ack.ok) this.setMessage(cap(ack.message), "error");
      else if (action === "stop") this.setMessage("Stopping after the current step…", "muted");
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
      else if (!this.watchUrl) this.watchUrl = this._watchLink("/watch/" + encodeURIComponent(jobId));
      this.tools.updateShare(this.watchUrl);
      this.updateControls();
    }

    /** The share link of a run: its watch page, the step-by-step one for a run stepped there. */
    _watchLink(path) {
      return location.origin + path + (BP.data.page === "backprop" ? "?view=backprop" : "");
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
      this.kind = h.kind;
      this.runs = BP.jobFeed.runsOf(h);
      this.h.reset(h.runs.length, h);
      if (this.h.config && h.runs.length && (this.readOnly || this.state !== "starting")) this.h.config(h.runs[0].dataset.config, h);
      BP.jobFeed.replay(this.h, h);
      if (h.runs.length) {
        const lrs = h.runs[0].steps && h.runs[0].steps.lr;
        if (lrs && lrs.length) this.live.showLr(lrs[lrs.length - 1]);
        else this.live.showLr(h.runs[0].dataset.config.lr);
      }
      this.live.showPace(h.pace);
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
          BP.jobFeed.track(this.runs, ev);
          if (ev.warning && r === 0) this.setMessage("Training… but note: " + ev.warning, "warn");
          this.h.dataset(r, ev);
          this.updateDownloads(); // a job that began after its history: its runs are announced one by one
          break;
        case "steps":
          BP.jobFeed.track(this.runs, ev);
          if (r === 0) this.live.showLr(ev.lr);
          this.h.steps(r, ev, false);
          if (this.state === "paused") this._pausedMessage(); // the steps done before the pause came after it
          this.renderStatus();
          break;
        case "lr":
          this.live.showLr(ev.lr);
          if (this.h.lr) this.h.lr(r, ev);
          break;
        case "pace":
          this.live.showPace(ev.pace);
          break;
        case "done":
          BP.jobFeed.track(this.runs, ev);
          this.h.done(r, ev);
          break;
        default:
          if (this.h[ev.type]) this.h[ev.type](r, ev);
      }
    }

    _pausedMessage() {
      this.status.say("paused", "", { runs: this.runs, readOnly: this.readOnly });
    }

    _state(state, message, fromHistory) {
      if (this.line && this.line.waiting && !ACTIVE.includes(state)) return this.line.show(); // an earlier run's end
      this.state = state;
      if (this.h.state) this.h.state(state, message, fromHistory);
      if (state !== "running") BP.render.flush(); // paused or ended: the charts show the last step now
      this.status.say(state, message, { runs: this.runs, readOnly: this.readOnly, fromHistory, kind: this.kind });
      this.updateControls();
      this.renderStatus();
    }

    // --- output ---------------------------------------------------------------------------------
    setMessage(text, kind) {
      this.status.setMessage(text, kind);
    }

    updateControls() {
      const e = this.el, active = ACTIVE.includes(this.state), live = this.state === "running" || this.state === "paused";
      const mine = this.owner && this.connected;
      const held = this.focus.before();
      e.start.disabled = !this.canStart();
      e.pause.disabled = !(mine && live);
      e.pause.querySelector("span").textContent = this.state === "paused" ? "Resume" : "Pause";
      e.pause.classList.toggle("primary", this.state === "paused");
      e.stop.disabled = !((mine && (live || this.state === "created")) || (this.state === "queued" && this.connected));
      this.live.update(mine, live, this.readOnly);
      this.h.controls(this);
      const form = this.opts.form();
      if (form) form.setDisabled(this.readOnly || active);
      if (this.opts.onControls) this.opts.onControls(this.readOnly || active);
      if (e.reset) e.reset.disabled = this.readOnly || active;
      this.models.update();
      this.focus.after(held);
    }

    renderStatus() {
      this.status.render(this.state, this.runs);
    }

    updateDownloads() {
      this.tools.updateDownloads(this.jobId, this.runs);
    }
  }
  BP.JobView = JobView;
})();
