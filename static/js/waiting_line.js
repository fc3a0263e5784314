/* The place in line when every training slot is busy: Start waits instead of being refused, the status bar
 * shows "2nd in line" and "about 40 s", Stop leaves the line, and the run is taken up here when it starts
 * ('queue' events, web/sockets.py). A page reloaded while waiting finds its place again (the 'hello'). */
(function () {
  "use strict";
  /** A rough wait in words: "about 40 s", "about 3 min" (an estimate: no false precision). */
  function about(seconds) {
    if (!(seconds >= 0)) return "a while";
    if (seconds < 60) return "about " + Math.max(5, Math.round(seconds / 5) * 5) + " s";
    return "about " + Math.round(seconds / 60) + " min";
  }

  class WaitingLine {
    /** view: the page's JobView. */
    constructor(view) {
      this.view = view;
      this.ticket = null;
      this.place = null; // the latest 'queued' payload: {position, place, ahead, wait, slots, waiting}
      this.before = "idle"; // the page's state before it joined the line (that of the run it showed)
      view.socket.on("queue", (q) => this.update(q));
      view.socket.on("hello", (h) => {
        if (h && h.queue && !view.readOnly) this.update(h.queue);
        else if (this.ticket) this._gone("Your place in line was given up while this page was away.", "warn");
      });
    }

    get waiting() {
      return this.ticket !== null;
    }

    /** A 'queue' event, or the start's ack saying it waits. */
    update(q) {
      if (!q || this.view.readOnly) return;
      if (q.state === "queued") {
        this.ticket = q.ticket;
        this.place = q;
        this.show();
      } else if (this.ticket === null || q.ticket === this.ticket) {
        this.ticket = null;
        this.place = null;
        if (q.state === "started") this.view.adoptStarted(q.job_id);
        else this._gone(q.state === "left" ? BP.cap(q.message) + "." : "The run could not start: " + q.message,
          q.state === "left" ? "muted" : "error");
      }
    }

    /** The page in its waiting state: the status bar's pill and ETA, the message line, the controls. */
    show() {
      const v = this.view, q = this.place;
      v.state = "queued";
      v.status.line = q;
      const ahead = q.ahead === 0 ? "you are next" : q.ahead === 1 ? "1 run ahead of you" : q.ahead + " runs ahead of you";
      v.setMessage("Every training slot is busy (" + q.slots + " of " + q.slots + "): you are " + q.place +
        " in line (" + ahead + "), " + about(q.wait) + ". Your run starts by itself; Stop leaves the line, " +
        "and so does leaving this page.", "muted");
      v.updateControls();
      v.renderStatus();
    }

    async leave() {
      const ack = await this.view.call("leave_queue", {});
      if (!ack.ok) this.view.setMessage(BP.cap(ack.message), "error");
      else if (!ack.left) this._gone("You were no longer in line.", "muted");
    }

    _gone(text, kind) {
      const v = this.view;
      this.ticket = null;
      this.place = null;
      v.status.line = null;
      if (v.state === "queued") v.state = v.jobId ? this.before || "idle" : "idle";
      v.setMessage(text, kind);
      v.updateControls();
      v.renderStatus();
    }
  }
  WaitingLine.about = about;
  BP.WaitingLine = WaitingLine;
})();
