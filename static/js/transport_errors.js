/* bpnet: say why the server closed the connection when it refused a message as too large (the page reconnects
   on its own, but the user should know that what they sent was not taken). Loaded after the Socket.IO client and
   before the page's scripts: it wraps io() so every socket the page makes reports such a close in the message
   line. The server answers a websocket message over its limit with close code 1009 and a long-polling request
   over it with HTTP 413 (web/transport.py). */
(function () {
  "use strict";
  const realIo = window.io;
  if (!realIo) return;

  function tooLarge(details) {
    if (!details) return null;
    const context = details.context;
    if (context && context.code === 1009) return context.reason || "message too large";  // websocket close
    if (details.description === 413) return "message too large";  // long-polling POST refused
    return null;
  }

  window.io = Object.assign(function () {
    const socket = realIo.apply(this, arguments);
    socket.on("disconnect", function (reason, details) {
      const why = tooLarge(details);
      const line = document.getElementById("message");
      if (!why || !line) return;
      line.textContent = "The server closed the connection (" + why + "): what you sent was not taken; " +
        "the page reconnects by itself.";
      line.dataset.kind = "error";
    });
    return socket;
  }, realIo);
})();
