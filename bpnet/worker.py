"""Training worker for many machines: `python -m bpnet.worker --url redis://host:6379/0` (or BPNET_REDIS_URL).

The dashboard (with BPNET_REDIS_URL set) queues jobs on Redis with RQ; a worker takes one, trains it here and
sends its events straight to the browsers through Flask-SocketIO's Redis message queue (python-socketio's
RedisManager: no Flask needed here). Control requests (pause, stop, lr, downloads, predictions) arrive on a
Redis list per job; replies go back on one list per request. Run one worker per core, on any machine that
reaches Redis; SIGTERM stops the job in hand (it ends 'stopped') and then the worker.

Redis keys, all under "bpnet:": job:{id} (hash: owner, kind, configs, state, message, seq, host: "hostname:pid"
set by the worker that takes the job, or "" by a web that cancels it first), active (set of unfinished job ids),
ctl:{id} (requests), reply:{req} (replies), hb:{id} (heartbeat, 5 s TTL, from when a worker takes the job until
its archive is stored), archive:{id} (the ended job, a day).
"""
import argparse
import base64
import json
import logging
import os
import socket
import sys
import threading
import time

QUEUE = "bpnet"
PREFIX = "bpnet:"
HEARTBEAT_TTL = 5
ARCHIVE_TTL = 86400


def _patience():
    raw = os.environ.get("BPNET_REDIS_PATIENCE", "20")
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise SystemExit(f"BPNET_REDIS_PATIENCE must be a positive number of seconds, got {raw!r}")
    return value


REDIS_PATIENCE = _patience()  # seconds without Redis (or with events undelivered) before a job is failed
LINGER_FACTOR = 10  # after the job, its last events and archive wait this many patiences for Redis to return

__all__ = ["QUEUE", "PREFIX", "run_job", "encode", "decode", "main"]

log = logging.getLogger("bpnet.worker")


def key(kind, ident):
    return f"{PREFIX}{kind}:{ident}"


def encode(value):
    """JSON text of a reply value; bytes travel as base64."""
    return json.dumps(value, default=lambda b: {"__bytes__": base64.b64encode(b).decode()}, allow_nan=False)


def decode(text):
    return json.loads(text, object_hook=lambda d: base64.b64decode(d["__bytes__"]) if "__bytes__" in d else d)


class Undelivered(Exception):
    """Events published while no web process listens on the Socket.IO channel: nobody received them."""


def _publisher(redis_url, seq_key):
    """python-socketio's write-only Redis emitter, made to say whether an emit reached a web process (the
    library logs a failed publish and drops it): emit() raises if Redis is unreachable, and `receivers` is then
    the number of web processes that got it. The job's record notes the last seq published in the same call."""
    import redis
    import socketio

    from .engine.events import JSON

    class Publisher(socketio.RedisManager):
        receivers = None

        def _publish(self, data):
            try:
                if not self.connected:
                    self._redis_connect()
                pipe = self.redis.pipeline()
                pipe.publish(self.channel, self.json.dumps(data))
                if data.get("event") == "events" and data["data"] and data["data"][0]:
                    pipe.hset(seq_key, "seq", data["data"][0][-1]["seq"])
                self.receivers = pipe.execute()[0]
            except redis.RedisError:
                self.connected = False
                raise

    return Publisher(redis_url, channel="flask-socketio", write_only=True, json=JSON,  # Flask-SocketIO's channel
                     redis_options={"socket_timeout": 5, "socket_connect_timeout": 5})


class _Link:
    """This worker's side of one job: Redis for state, requests and replies; Socket.IO rooms for events.

    Contact with Redis is what succeeds against it (a beat, a poll for requests, a publish some web process
    received); out_of_contact() says for how long there has been none, or events have been waiting undelivered
    (the relay keeps them, in order, and sends them again at the next flush)."""

    def __init__(self, redis_url, job_id, meta):
        import redis

        from .engine.relay import Relay
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.job_id, self.meta = job_id, meta
        self.publisher = _publisher(redis_url, key("job", job_id))
        self.relay = Relay(job_id, self._emit)
        self.state, self.message, self.seq = "created", "", 0
        self.last_contact, self.undelivered_since, self.lost = time.monotonic(), None, False
        self.archive = None  # the ended job's archive until it is stored
        self.ended = threading.Event()
        self._beating = threading.Lock()  # one beat at a time: a heartbeat's stale state never lands after a new one

    def _safe(self, fn):
        """Run a Redis call; if Redis is unreachable, note it and carry on (the heartbeat decides when to quit)."""
        import redis
        try:
            result = fn()
        except (redis.RedisError, Undelivered) as exc:
            if not self.lost:
                log.warning("job %s: Redis unreachable (%s); carrying on", self.job_id, exc)
            self.lost = True
            return None
        self.last_contact = time.monotonic()
        if self.lost and self.undelivered_since is None:
            log.info("job %s: Redis reachable again", self.job_id)
            self.lost = False
        return result

    def _emit(self, name, data, to):
        """The relay's emit: raises unless a web process received it (the relay then keeps the events)."""
        import redis
        try:
            self.publisher.emit(name, data, room=to, namespace="/")
            if not self.publisher.receivers:
                raise Undelivered("no web process is listening for the job's events")
        except (redis.RedisError, Undelivered):
            self.undelivered_since = self.undelivered_since or time.monotonic()
            raise
        self.undelivered_since = None
        self.last_contact = time.monotonic()

    def out_of_contact(self):
        """Seconds without Redis, or with events waiting undelivered (0 while all is well)."""
        now = time.monotonic()
        return max(now - self.last_contact, now - self.undelivered_since if self.undelivered_since else 0.0)

    def send(self, message):
        kind = message["kind"]
        if kind == "event":
            event = message["event"]
            self.seq = event["seq"]
            if event["type"] == "state":
                self.state, self.message = event["state"], event["message"]
                self._safe(self.beat)
            self.relay.add(event)
        elif kind == "history":
            self._safe(lambda: self.relay.deliver_history(message["event"], message["sid"]))
        elif kind == "reply":
            reply_key = key("reply", message["req"])
            self._safe(lambda: self.redis.pipeline().rpush(reply_key, encode(message)).expire(reply_key, 60).execute())
        elif kind == "archive":
            self.archive = message["data"]
            self.store_archive()
        elif kind == "host":
            self.meta["host"] = f"{message['hostname']}:{message['pid']}"

    def store_archive(self):
        """Store the ended job's archive (True once it is); the record follows."""
        if self.archive is not None and self._safe(lambda: self.redis.set(key("archive", self.job_id), self.archive,
                                                                           ex=ARCHIVE_TTL)):
            self.archive = None
            self._safe(self.beat)
        return self.archive is None

    def receive(self, timeout):
        before = self.last_contact
        item = self._safe(lambda: self.redis.blpop([key("ctl", self.job_id)], timeout=max(timeout, 0.01)))
        if item is None:
            if self.last_contact == before:  # Redis unreachable: wait the poll out instead of spinning
                time.sleep(timeout)
            return None
        try:
            return json.loads(item[1])
        except ValueError:
            return None

    def finish(self, patience):
        """After the job: deliver its last events and store its archive, waiting for Redis (an outage) at most
        `patience` seconds; then record the end and drop the heartbeat."""
        deadline = time.monotonic() + patience
        while True:
            self._safe(self.relay.flush)
            if self.store_archive() and not self.relay.pending() or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if self.archive is not None or self.relay.pending():
            log.error("job %s: Redis unreachable for %.0f s after the job ended: its last events or archive are "
                      "lost", self.job_id, patience)
        self._safe(self.beat)

    def beat(self):
        """Refresh the heartbeat and the job's record (restores it if Redis restarted empty). The heartbeat lasts
        until this worker is done with the job (its archive stored), not just until the job's last state."""
        with self._beating:
            self._beat()

    def _beat(self):
        over = self.state in ("finished", "stopped", "failed")
        pipe = self.redis.pipeline()
        pipe.hset(key("job", self.job_id), mapping={**self.meta, "state": self.state, "message": self.message,
                                                     "seq": self.seq})
        pipe.expire(key("job", self.job_id), ARCHIVE_TTL)
        pipe.srem(PREFIX + "active", self.job_id) if over else pipe.sadd(PREFIX + "active", self.job_id)
        if over and self.ended.is_set():
            pipe.delete(key("hb", self.job_id))
        else:
            pipe.set(key("hb", self.job_id), 1, ex=HEARTBEAT_TTL)
        pipe.execute()


def run_job(job_id, spec, redis_url, meta):
    """RQ task: train one job here, reporting through Redis; returns its final state."""
    from .engine.host import build_job, host_job

    link = _Link(redis_url, job_id, dict(meta, host=f"{socket.gethostname()}:{os.getpid()}"))
    flusher = threading.Thread(target=link.relay.run, args=(link.ended.is_set,), daemon=True)
    flusher.start()
    job = None

    def heartbeat():  # from the start: a worker that dies while loading the data is noticed too
        while not link.ended.wait(1.0):
            link._safe(link.beat)
            if link.out_of_contact() > REDIS_PATIENCE and job is not None and not job.done:
                log.error("job %s: its events could not be delivered for %g s: failing it", job_id, REDIS_PATIENCE)
                job.stop(f"the job queue (Redis) was unreachable for {REDIS_PATIENCE:g} s, so its training worker "
                         "could not report it to the dashboard and stopped it", failed=True)

    job_key = key("job", job_id)
    claim = link._safe(lambda: link.redis.pipeline().set(key("hb", job_id), 1, ex=HEARTBEAT_TTL)
                       .hsetnx(job_key, "host", link.meta["host"]).execute())
    if claim is not None and not claim[1]:  # the web cancelled it while it was queued (it set the host first)
        log.info("job %s was stopped before this worker took it: skipped", job_id)
        link._safe(lambda: link.redis.delete(key("hb", job_id)))
        link.ended.set()
        return "stopped"
    link._safe(link.beat)
    beater = threading.Thread(target=heartbeat, daemon=True)
    beater.start()
    try:
        try:
            job = build_job(job_id, spec)
        except Exception as exc:  # noqa: BLE001 - the user's job fails with the reason; the worker goes on
            link.send({"kind": "event", "job_id": job_id, "event": {
                "type": "state", "job_id": job_id, "seq": 1, "run": 0, "state": "failed",
                "message": f"could not start: {exc}"}})
            return "failed"
        host_job(job, link.send, link.receive, poll=0.1)
        return job.state
    finally:  # send the last events and the archive (riding out an outage), then record the end
        link.ended.set()
        beater.join(10)
        flusher.join(5)
        link.finish(LINGER_FACTOR * REDIS_PATIENCE)


def main(argv=None):
    parser = argparse.ArgumentParser(description="A bpnet training worker: takes jobs from Redis and trains them.")
    parser.add_argument("--url", default=os.environ.get("BPNET_REDIS_URL"), help="Redis URL (BPNET_REDIS_URL)")
    parser.add_argument("--name", help="worker name (default: host and pid)")
    parser.add_argument("--burst", action="store_true", help="quit when the queue is empty")
    args = parser.parse_args(argv)
    if not args.url:
        parser.error("give --url or set BPNET_REDIS_URL (e.g. redis://localhost:6379/0)")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one job per worker process: one core each
    logging.basicConfig(level=os.environ.get("BPNET_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import redis
    from rq import Queue, Worker

    class StoppingWorker(Worker):
        """On SIGTERM, ask the job in hand to stop (it ends 'stopped' within a step) instead of waiting for it.
        A Redis outage while a job trains no longer ends the worker: RQ's heartbeats then fail quietly."""

        stopping = False

        def handle_warm_shutdown_request(self):
            super().handle_warm_shutdown_request()
            self.stopping = True
            current = self.get_current_job_id()
            if current and current.startswith("bpnet-"):
                request = json.dumps({"op": "stop", "req": "shutdown",
                                      "args": ["stopped: its training worker was shut down"]})
                try:
                    self.connection.rpush(key("ctl", current[len("bpnet-"):]), request)
                except redis.RedisError:  # Redis away: the job is stopped with the worker
                    pass

        def maintain_heartbeats(self, job, execution):
            try:
                super().maintain_heartbeats(job, execution)
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # the job's own link rides it out
                self.log.warning("Worker %s: Redis unreachable while a job runs (%s); carrying on", self.name, exc)

    from .optim import warm_up
    warm_up()  # compiled once here, inherited by the process RQ forks for each job
    connection = redis.Redis.from_url(args.url)
    name = args.name
    while True:  # RQ's loop quits on a Redis error outside its wait for a job: wait for Redis, and go on
        worker = StoppingWorker([Queue(QUEUE, connection=connection)], connection=connection, name=name)
        log.info("bpnet worker %s waiting for jobs on %s", worker.name, args.url)
        try:
            worker.work(burst=args.burst, with_scheduler=False)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("bpnet worker %s: Redis unreachable (%s)", worker.name, exc)
        if worker.stopping or args.burst:
            return 0
        _wait_for(connection, worker)


def _wait_for(connection, worker):
    """Wait until Redis answers again, then clear the worker's old registration (its name is reused)."""
    import redis

    log.warning("bpnet worker %s: waiting for Redis to come back", worker.name)
    while True:
        try:
            connection.ping()
            break
        except redis.RedisError:
            time.sleep(1.0)
    try:
        worker.register_death()
        connection.delete(worker.key)
    except redis.RedisError:
        pass
    log.info("bpnet worker %s: Redis is back", worker.name)

if __name__ == "__main__":
    sys.exit(main())
