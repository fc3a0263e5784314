"""Guards in front of Engine.IO (python-engineio 4.15.1, the latest release, has no fix): no request may hang.

Engine.IO answers a long-polling POST it rejects (a Content-Length over max_http_buffer_size, an unknown packet
type) by disconnecting the session, and Socket.close() then waits in queue.join() for a GET poll to take the
queue: with none pending, the request's thread waits forever (about 100 such requests, headers only, left the
production server, gunicorn with 100 threads, answering nothing). `guard()` installs three things:

- `PollingGuard`, WSGI middleware that answers such a POST itself, at once: 413 for a body over the limit
  (before reading it), 400 for a body engine.io would reject or choke on, before engine.io sees it;
- a queue whose join() gives up after CLOSE_WAIT seconds, so no other way into that wait can hold a thread
  for good;
- a websocket whose messages are limited like the polling bodies: an over-long message is answered with the
  WebSocket close code 1009 ("message too big") before the connection closes, and the page says so
  (static/js/transport_errors.js); before, the connection closed silently and the page reconnected.
"""
import io
import queue
import urllib.parse

from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

__all__ = ["guard", "PollingGuard", "CLOSE_WAIT", "MAX_MESSAGE_BYTES"]

MAX_MESSAGE_BYTES = 200_000  # one Socket.IO message (a polling body, a websocket message)
CLOSE_WAIT = 5.0  # seconds Socket.close() may wait for a poll to take its last packets
PACKET_TYPES = "0123456"  # Engine.IO 4: open, close, ping, pong, message, upgrade, noop ('b': base64 binary)
MAX_PACKETS = 16  # per polling payload (engine.io's Payload.max_decode_packets)
HARD_LIMIT = 4  # times the limit: a websocket message this long is not even read to the end


class PollingGuard:
    """WSGI middleware: Engine.IO polling POSTs that engine.io would hang on or log a traceback for are answered
    here (413, 400) with a one-line reason; everything else goes through untouched."""

    def __init__(self, app, limit=MAX_MESSAGE_BYTES, path="/socket.io"):
        self.app, self.limit, self.path = app, limit, path.rstrip("/")

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or not environ.get("PATH_INFO", "").startswith(self.path + "/"):
            return self.app(environ, start_response)
        raw = (environ.get("CONTENT_LENGTH") or "0").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) < 16):
            return _answer(start_response, "400 Bad Request", "invalid Content-Length")
        length = int(raw)
        if length > self.limit:
            return _answer(start_response, "413 Content Too Large",
                           f"message too large: {length} bytes, the limit is {self.limit}")
        body = environ["wsgi.input"].read(length) if length else b""
        problem = _payload_problem(body)
        if problem:
            return _answer(start_response, "400 Bad Request", problem)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


def _payload_problem(body):
    """Why engine.io would refuse this polling payload (None if it would not)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    if not text:
        return None
    if text.startswith("d="):  # a JSONP payload
        text = urllib.parse.parse_qs(text).get("d", [""])[0]
    packets = text.split("\x1e")
    if len(packets) > MAX_PACKETS:
        return f"too many packets in one request (at most {MAX_PACKETS})"
    if not all(p and (p[0] in PACKET_TYPES or p[0] == "b") for p in packets):
        return "unknown Engine.IO packet type"
    return None


def _answer(start_response, status, text):
    body = (text + "\n").encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Connection", "close")])
    return [body]


class _Queue(queue.Queue):
    """A packet queue whose join() (Socket.close waiting for a poll to take the last packets) gives up."""

    def join(self):
        with self.all_tasks_done:
            self.all_tasks_done.wait_for(lambda: not self.unfinished_tasks, timeout=CLOSE_WAIT)


def _limited_websocket(limit):
    class LimitedWebSocket(SimpleWebSocketWSGI):
        """A websocket whose messages over `limit` are answered with close code 1009 and the reason. The message
        is read first (closing with unread data would reset the connection and lose the close frame); beyond
        HARD_LIMIT x limit, simple-websocket stops reading and closes at once (1009, 'Message is too big')."""

        def __init__(self, handler, server, **kwargs):
            super().__init__(handler, server, max_message_size=HARD_LIMIT * limit, **kwargs)

        def wait(self):
            data = super().wait()
            if data is not None and len(data) > limit:
                self.ws.close(reason=1009, message=f"message too large: {len(data)} bytes, the limit is {limit}")
                return None  # engine.io: the connection is closed
            return data
    return LimitedWebSocket


def guard(app, socketio, limit=MAX_MESSAGE_BYTES):
    """Install the guards on a Flask app and its Flask-SocketIO server (threading mode, path /socket.io)."""
    eio = socketio.server.eio
    eio._async = {**eio._async, "queue": _Queue, "websocket": _limited_websocket(limit)}  # this server's copy
    app.wsgi_app = PollingGuard(app.wsgi_app, limit)
