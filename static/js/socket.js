/* The page's Socket.IO connection: reconnects by itself, shows its state in the status bar's badge, and
 * turns emit-with-ack into promises that always resolve (a timeout or no connection is an {ok: false}). */
(function () {
  "use strict";

  class Connection {
    /** handlers: {connect(), disconnect(reason), history(h), events(list)}; badge: the #st-conn element. */
    constructor(badge, handlers) {
      this.badge = badge;
      this.connected = false;
      const socket = (this.socket = io({ reconnectionDelay: 500, reconnectionDelayMax: 4000 }));
      socket.on("connect", () => {
        this.connected = true;
        this._badge("connected", "connected");
        handlers.connect();
      });
      socket.on("disconnect", (reason) => {
        this.connected = false;
        this._badge("lost", reason === "io client disconnect" ? "disconnected" : "reconnecting…");
        handlers.disconnect(reason);
      });
      socket.on("connect_error", () => this._badge("lost", "cannot reach the server, retrying…"));
      socket.on("history", (h) => handlers.history(h));
      socket.on("events", (list) => handlers.events(list));
      socket.on("error", () => {}); // refusals arrive in the acks, which say which request failed
    }

    _badge(kind, text) {
      this.badge.dataset.conn = kind;
      this.badge.textContent = text;
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
  }
  BP.Connection = Connection;
})();
