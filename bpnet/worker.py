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
REDIS_PATIENCE = 20  # seconds without Redis before a worker gives its job up

__all__ = ["QUEUE", "PREFIX", "run_job", "encode", "decode", "main"]

log = logging.getLogger("bpnet.worker")


def key(kind, ident):
    return f"{PREFIX}{kind}:{ident}"


def encode(value):
    """JSON text of a reply value; bytes travel as base64."""
    return json.dumps(value, default=lambda b: {"__bytes__": base64.b64encode(b).decode()}, allow_nan=False)


def decode(text):
    return json.loads(text, object_hook=lambda d: base64.b64decode(d["__bytes__"]) if "__bytes__" in d else d)


class _Link:
    """This worker's side of one job: Redis for state, requests and replies; Socket.IO rooms for events."""

    def __init__(self, redis_url, job_id, meta):
        import redis
        import socketio

        from .engine.relay import Relay
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.job_id, self.meta = job_id, meta
        from .engine.events import JSON
        manager = socketio.RedisManager(redis_url, channel="flask-socketio", write_only=True,  # Flask-SocketIO's
                                        json=JSON)  # channel; strict JSON, NaN as null
        self.relay = Relay(job_id, lambda name, data, to: manager.emit(name, data, room=to, namespace="/"))
        self.state, self.message, self.seq = "created", "", 0
        self.last_contact = time.monotonic()
        self.ended = threading.Event()

    def _safe(self, fn):
        """Run a Redis call; on a connection error, note it and carry on (the heartbeat decides when to quit)."""
        import redis
        try:
            result = fn()
            self.last_contact = time.monotonic()
            return result
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("job %s: Redis unreachable (%s)", self.job_id, exc)
            return None

    def send(self, message):
        kind = message["kind"]
        if kind == "event":
            event = message["event"]
            self.seq = event["seq"]
            if event["type"] == "state":
                self.state, self.message = event["state"], event["message"]
                self._safe(self.beat)
            self._safe(lambda: self.relay.add(event))
        elif kind == "history":
            self._safe(lambda: self.relay.deliver_history(message["event"], message["sid"]))
        elif kind == "reply":
            reply_key = key("reply", message["req"])
            self._safe(lambda: self.redis.pipeline().rpush(reply_key, encode(message)).expire(reply_key, 60).execute())
        elif kind == "archive":
            self._safe(lambda: self.redis.set(key("archive", self.job_id), message["data"], ex=ARCHIVE_TTL))
            self._safe(self.beat)
        elif kind == "host":
            self.meta["host"] = f"{message['hostname']}:{message['pid']}"

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

    def beat(self):
        """Refresh the heartbeat and the job's record (restores it if Redis restarted empty). The heartbeat lasts
        until this worker is done with the job (its archive stored), not just until the job's last state."""
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
            if time.monotonic() - link.last_contact > REDIS_PATIENCE and job is not None and not job.done:
                log.error("job %s: no Redis for %d s: stopping it", job_id, REDIS_PATIENCE)
                job.stop()

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
    finally:  # send the last events, then record the end and drop the heartbeat (no beat may follow)
        link.ended.set()
        beater.join(10)
        flusher.join(5)
        link._safe(link.beat)


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
        """On SIGTERM, ask the job in hand to stop (it ends 'stopped' within a step) instead of waiting for it."""

        def handle_warm_shutdown_request(self):
            super().handle_warm_shutdown_request()
            current = self.get_current_job_id()
            if current and current.startswith("bpnet-"):
                request = json.dumps({"op": "stop", "req": "shutdown",
                                      "args": ["stopped: its training worker was shut down"]})
                self.connection.rpush(key("ctl", current[len("bpnet-"):]), request)

    from .optim import warm_up
    warm_up()  # compiled once here, inherited by the process RQ forks for each job
    connection = redis.Redis.from_url(args.url)
    worker = StoppingWorker([Queue(QUEUE, connection=connection)], connection=connection, name=args.name)
    log.info("bpnet worker %s waiting for jobs on %s", worker.name, args.url)
    worker.work(burst=args.burst, with_scheduler=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
