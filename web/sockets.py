"""Socket.IO handlers: validate the payload, find the caller's job, forward to the engine; nothing else.

Client -> server (each answered by an ack {"ok": true, ...} or {"ok": false, "message", "errors"?};
a refusal is also sent as an 'error' event; a start refused because this session already runs a job also
carries that job's job_id, page, page_url (its page, with the controls) and watch_url):
  start    {config: {...}, paused?: bool, init_from?: job_id} or {comparison: name, config: {...}, paused?}
           -> {job_id, watch_url}; then 'history' + 'events'. paused: true makes the job (data, model at its
           initial weights) and waits at step 0: its first state event is 'paused' with steps [0, ...] (step
           mode). init_from: train on from that job's model (one loaded with POST /models, or any ended run)
           When every training slot is busy (or others wait), the start waits in line instead: the ack is
           {queued: true, ticket, position, place ("2nd"), ahead, wait (s, about), slots, waiting}, and 'queue'
           events follow (below) until it starts; read-only watching is never queued
           (one's own data: config.data is the digest POST /api/data answered, or {csv, name}, or {values})
  leave_queue {}                                    -> {left: bool}: give up one's place in line
  watch    {job_id}                                 -> 'history', then 'events' (read-only)
  pause | resume | stop  {job_id}                   owner only
  step     {job_id, steps?: 1..1000 | "epoch"}      owner only, from 'paused' -> {state: "running", until: [step
           each run will pause at]}; runs that many minibatches (default 1; "epoch": to the end of each run's
           current epoch), then pauses again: state events 'running', then 'paused' with the exact `steps`
  rewind   {job_id, lr?}                            owner only -> {job_id (the new job), watch_url, lr}: stops
           the job and starts its config again, same seed (same initial weights and data order), with `lr`
           if given, paused at step 0; the caller is attached to the new job ('history' + 'events'). An ended
           job may be rewound too (then refused, as a start, if this session runs another job). Single runs
           only (a comparison is refused: start it again)
  xray     {job_id, run?: k}                        owner and watchers -> {xray: {...}}: the X-ray of run k's
           latest recorded step (docs/xray.md; also GET /jobs/<job_id>/xray.json?run=k); refused with the reason
           when there is none (step 0: "no step has run yet"); asking keeps a running job recording for 5 s
           ('xray_ready' events, at most 2 a second); at most 4 requests a second per connection (xray.json:
           per job, else 429)
  set_lr   {job_id, lr}                             owner only  -> {lr}; then an 'lr' event
  set_pace {job_id, pace}                           owner only  -> {pace}; then a 'pace' event: the speed limit
                                                    (steps/s, 0: none; limits: the schema's pace field)
  predict  {job_id, pixels: 784 numbers in [0, 1]}  -> {probs: [10 floats]} (MNIST jobs; PREDICT_RATE a second
                                                       per connection, owner or watcher)
  ping     {}                                       -> {t: server time}
Any other event name, or a packet that cannot be read (see web/payloads.py), is refused the same way (its
ack, if it asked for one, says why); such refusals are logged once per client per minute.
Server -> client: 'hello' {max_running, queue: this session's place in line or null}; 'history' (engine history
event); 'events' [engine events]; 'queue' {ticket, state: "queued" (with the place, as the start's ack; sent when
it changes and every few seconds) | "started" (job_id, page: its history follows on 'watch') | "left" | "refused"
(message)} to every page of the session waiting (a session whose pages all close keeps its place, passed over,
for the grace period, then leaves the line);
'error' {event, message, errors?}. Engine event payloads: bpnet/engine/events.py; the X-ray: docs/xray.md.
"""
import logging
import math
import secrets
import time

from flask import request, session, url_for
from flask_socketio import emit, join_room

from bpnet.engine.config import ConfigError
from bpnet.engine.job import JobError, step_count

from .jobs import ServiceError, room_of
from .payloads import RESERVED, UNREADABLE
from .waiting import Ticket

__all__ = ["register", "BadRequest", "RateLimit", "XRAY_RATE"]

log = logging.getLogger("bpnet.web")
MAX_ID = 64
LOG_EVERY = 60.0  # seconds between two log lines about one client's unreadable or unknown messages
PREDICT_RATE = 8  # predictions a second per connection (a page drawing a digit asks about 7)
XRAY_RATE = 4  # X-rays a second per connection (a page asks at most one per 'xray_ready', about 2 a second)


class BadRequest(ValueError):
    """A malformed socket payload."""


def _job_id(data):
    job_id = _obj(data).get("job_id")
    if not isinstance(job_id, str) or not job_id or len(job_id) > MAX_ID:
        raise BadRequest("job_id must be a job id string")
    return job_id


def _obj(data):
    if not isinstance(data, dict):
        raise BadRequest(f"expected an object, got {type(data).__name__ if data is not None else 'nothing'}")
    return data


def _run(run, entry):
    if isinstance(run, bool) or not isinstance(run, int) or not 0 <= run < entry.job.run_count:
        raise BadRequest(f"run must be the index of one of the job's runs (0 to {entry.job.run_count - 1})")
    return run


def _client():
    """This browser session's id (from the signed session cookie; one per connection if there is none)."""
    if "client_id" not in session:
        session["client_id"] = secrets.token_urlsafe(16)
    return session["client_id"]


def _links(details):
    """A refusal's details with the pages of the job it names: the owner's page (controls) and the watch page."""
    if "job_id" not in details:
        return dict(details)
    job_id = details["job_id"]
    return {**details, "watch_url": url_for("pages.watch", job_id=job_id),
            "page_url": url_for("pages.experiment", task=details["page"], job=job_id)}


class _Throttled:
    """Log a warning about a client at most once per LOG_EVERY seconds (a flood must not fill the log)."""

    def __init__(self):
        self._last = {}

    def warning(self, client, text):
        now = time.monotonic()
        if now - self._last.get(client, -LOG_EVERY) >= LOG_EVERY:
            if len(self._last) > 10_000:
                self._last = {c: t for c, t in self._last.items() if now - t < LOG_EVERY}
            self._last[client] = now
            log.warning("client %s: %s (more like it within %d s are not logged)", client[:8], text, LOG_EVERY)


class RateLimit:
    """A token bucket per key: `rate` calls a second on average, `burst` at once; `clock` is replaceable."""

    def __init__(self, rate, burst, clock=time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets = {}  # key -> (tokens, when)

    def allow(self, key):
        now = self.clock()
        tokens, when = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True

    def forget(self, key):
        self._buckets.pop(key, None)


def register(socketio, manager, xrays):
    """Attach the handlers to a Flask-SocketIO server driving `manager`; returns the predict rate limit.
    xrays: the X-ray requests' RateLimit (per connection here; per job for GET xray.json)."""
    throttled = _Throttled()
    manager.notify = lambda sids, payload: [socketio.emit("queue", payload, to=sid) for sid in sids]
    predictions = RateLimit(PREDICT_RATE, PREDICT_RATE)  # per connection, owner or watcher

    def refuse(reply):
        emit("error", reply)
        return {"ok": False, **reply}

    def handler(name):
        def deco(fn):
            def wrapped(*args):
                try:
                    if len(args) > 1:  # a handler taking one argument would raise TypeError outside this try
                        raise BadRequest(f"expected one object, got {len(args)} arguments")
                    return {"ok": True, **(fn(args[0] if args else None) or {})}
                except ConfigError as exc:
                    summary = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
                    message = "invalid settings: " + (summary if len(summary) < 150 else summary[:147] + "...")
                    reply = {"event": name, "message": message, "errors": exc.errors}
                except ServiceError as exc:
                    reply = {"event": name, "message": str(exc), **_links(exc.details)}
                except (BadRequest, JobError, ValueError) as exc:
                    reply = {"event": name, "message": str(exc)}
                except Exception:  # an engine bug: log it, tell the user something clear
                    log.exception("error handling socket event %r", name)
                    reply = {"event": name, "message": "internal server error"}
                return refuse(reply)
            socketio.on_event(name, wrapped)
            return wrapped
        return deco

    def attach(entry):
        """Join the job's room and send its history, atomically with respect to the relay."""
        entry.job.attach(lambda: join_room(room_of(entry.job.id)), request.sid)

    @socketio.on("*")
    def other(event, *args):
        """An event with no handler, or a packet that could not be read (delivered as UNREADABLE)."""
        info = args[0] if event == UNREADABLE and args and isinstance(args[0], dict) else {"unknown": True}
        name = info.get("event", event)
        if info.get("unknown"):
            events = sorted(n for n in socketio.server.handlers.get("/", {}) if n not in RESERVED)
            message = f"unknown event {str(name)[:40]!r}: the events are {', '.join(events)}"
        else:
            message = f"could not read the message: {info.get('problem', 'unreadable')}"
        throttled.warning(_client(), message)
        return refuse({"event": name[:40] if isinstance(name, str) else None, "message": message})

    @socketio.on("connect")
    def on_connect(auth=None):
        manager.connected(_client(), request.sid)
        emit("hello", {"max_running": manager.max_running, "queue": manager.line_status(_client())})

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        predictions.forget(request.sid)
        xrays.forget(request.sid)
        manager.disconnected(_client(), request.sid)

    @handler("start")
    def start(data):
        data = _obj(data)
        config = data.get("config", {})
        comparison = data.get("comparison")
        if not isinstance(config, dict):
            raise BadRequest("config must be an object of settings")
        if comparison is not None and not isinstance(comparison, str):
            raise BadRequest("comparison must be a name")
        paused = data.get("paused", False)
        if not isinstance(paused, bool):
            raise BadRequest("paused must be true or false")
        init_from = data.get("init_from")
        if init_from is not None and (not isinstance(init_from, str) or not init_from or len(init_from) > MAX_ID):
            raise BadRequest("init_from must be the id of the job whose model to train on")
        job = manager.start(_client(), config=config, comparison=comparison, paused=paused, init_from=init_from,
                            queue=True)
        if isinstance(job, Ticket):  # every slot busy: it waits in line ('queue' events follow)
            return {"queued": True, **(manager.line_status(_client()) or {"ticket": job.id, "state": "queued"})}
        attach(manager.get(job.id))
        return {"job_id": job.id, "watch_url": url_for("pages.watch", job_id=job.id)}

    @handler("leave_queue")
    def leave_queue(data):
        if data is not None:
            _obj(data)
        return {"left": manager.leave(_client())}

    @handler("watch")
    def watch(data):
        entry = manager.get(_job_id(data))
        attach(entry)
        return {"job_id": entry.job.id, "owner": entry.owner == _client()}

    def control(action):
        @handler(action)
        def fn(data):
            entry = manager.owned(_client(), _job_id(data))
            getattr(entry.job, action)()
            return {"state": entry.job.state}

    for action in ("pause", "resume", "stop"):
        control(action)

    @handler("step")
    def step(data):
        entry = manager.owned(_client(), _job_id(data))
        return entry.job.step(step_count(_obj(data).get("steps", 1)))

    @handler("rewind")
    def rewind(data):
        lr = _obj(data).get("lr")
        job = manager.rewind(_client(), _job_id(data), lr)
        attach(manager.get(job.id))
        return {"job_id": job.id, "watch_url": url_for("pages.watch", job_id=job.id), "lr": job.config["lr"]}

    @handler("xray")
    def xray(data):
        entry = manager.get(_job_id(data))
        run = _run(_obj(data).get("run", 0), entry)
        if not xrays.allow(request.sid):
            raise BadRequest(f"too many X-ray requests: at most {XRAY_RATE} a second from one page; the "
                             "'xray_ready' event says when a new one is there")
        return {"xray": entry.job.xray(run)}

    @handler("set_lr")
    def set_lr(data):
        entry = manager.owned(_client(), _job_id(data))
        return {"lr": entry.job.set_lr(_obj(data).get("lr"))}

    @handler("set_pace")
    def set_pace(data):
        entry = manager.owned(_client(), _job_id(data))
        return {"pace": entry.job.set_pace(_obj(data).get("pace"))}

    @handler("predict")
    def predict(data):
        entry = manager.get(_job_id(data))
        pixels = _obj(data).get("pixels")
        if (not isinstance(pixels, list) or len(pixels) != 784
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in pixels)):
            raise BadRequest("pixels must be a list of 784 numbers from 0 to 1 (a 28x28 image, row by row)")
        run = _run(_obj(data).get("run", 0), entry)
        if not predictions.allow(request.sid):  # a watcher predicting flat out would slow the owner's training
            raise BadRequest(f"too many predictions: at most {PREDICT_RATE} a second from one page; "
                             "try again in a moment")
        probs = entry.job.predict_digit(pixels, run)
        if not all(isinstance(p, float) and math.isfinite(p) for p in probs.tolist()):
            raise BadRequest("this model's outputs are not numbers (its training diverged): nothing to predict")
        return {"probs": probs.tolist()}

    @handler("ping")
    def ping(data):
        if data is not None:
            _obj(data)
        return {"t": time.time()}

    return predictions
