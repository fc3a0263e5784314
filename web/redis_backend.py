"""Jobs queued on Redis (RQ) and trained by `python -m bpnet.worker` processes on any machine.

The web process records each job in Redis (so any web process can find, watch and control it), queues it,
and talks to the worker that takes it through Redis lists (bpnet/worker.py documents the keys). Workers emit
events to the browsers themselves through the Socket.IO Redis message queue. A job whose worker stops
beating its heart (killed, machine gone, Redis lost) is failed here with a message.
"""
import json
import logging
import threading
import time
import uuid

import redis
from rq import Queue

from bpnet.engine.archive import JobArchive
from bpnet.engine.config import ConfigError
from bpnet.engine.job import STOPPED_BY_USER, TERMINAL, JobError
from bpnet.engine.relay import room_of
from bpnet.engine.replay import EventLog
from bpnet.worker import HEARTBEAT_TTL, PREFIX, QUEUE, decode, key, run_job

from .backends import RequestOps, ServiceError, lost_job_answer, waiting_history

__all__ = ["RedisBackend", "RedisJob"]

log = logging.getLogger("bpnet.web")
JOB_TIMEOUT = 24 * 3600
REPLY_TIMEOUT = 15
START_PATIENCE = 60  # a queued job whose worker never shows up is failed after this many seconds


def _unavailable(exc):
    return ServiceError(f"the job queue (Redis) is unreachable: {exc}; try again in a moment")


class RedisJob(RequestOps):
    """A job recorded in Redis: state from its record, requests to its worker, results from its archive."""

    def __init__(self, backend, job_id, record):
        self.backend, self.id = backend, job_id
        self.kind = record.get("kind", "train")
        self.configs = json.loads(record.get("configs", "[{}]"))
        self._archive = None

    config = property(lambda self: self.configs[0])
    run_count = property(lambda self: len(self.configs))
    log = property(lambda self: self.backend.logs.get(self.id))  # its events, if launched by this web process

    def _record(self):
        try:
            return {k.decode(): v.decode() for k, v in self.backend.redis.hgetall(key("job", self.id)).items()}
        except redis.RedisError as exc:
            raise _unavailable(exc)

    @property
    def state(self):
        return self._record().get("state", "failed")

    @property
    def message(self):
        return self._record().get("message", "")

    @property
    def done(self):
        return self.state in TERMINAL

    def archive(self):
        if self._archive is None:
            try:
                blob = self.backend.redis.get(key("archive", self.id))
            except redis.RedisError as exc:
                raise _unavailable(exc)
            if blob is not None:
                self._archive = JobArchive.from_bytes(blob)
        return self._archive

    def _held(self):
        """Whether a worker still holds the job (its heartbeat lasts until the job's archive is stored)."""
        try:
            return bool(self.backend.redis.exists(key("hb", self.id)))
        except redis.RedisError as exc:
            raise _unavailable(exc)

    def _from_archive(self, op, args, sid):
        archive = self.archive()
        if archive is None:
            return None
        if op == "send_history":
            return lambda: self.backend.emit("history", archive.history_event(), sid)
        return lambda: getattr(archive, op)(*args)

    def _request(self, op, *args, sid=None):
        answer = self._from_archive(op, args, sid)
        deadline = time.monotonic() + REPLY_TIMEOUT
        while answer is None and self.done and self._held() and time.monotonic() < deadline:
            time.sleep(0.05)  # it has just ended: its worker is storing the archive
            answer = self._from_archive(op, args, sid)
        if answer is not None:
            return answer()
        if self.done:
            return lost_job_answer(self, op, args, lambda h: self.backend.emit("history", h, sid))
        req = uuid.uuid4().hex
        try:
            self.backend.redis.rpush(key("ctl", self.id), json.dumps({"op": op, "args": list(args), "req": req,
                                                                     "sid": sid}))
            item = None
            while item is None and time.monotonic() < deadline:  # in slices: the socket timeout is shorter
                item = self.backend.redis.blpop([key("reply", req)], timeout=1)
                if item is None and self.done:  # it ended before its worker read the request
                    return self._request(op, *args, sid=sid)
        except redis.RedisError as exc:
            raise _unavailable(exc)
        if item is None:
            raise ServiceError("the training worker did not answer in time (it may be busy starting); try again")
        reply = decode(item[1])
        if not reply["ok"]:
            if reply.get("errors"):
                raise ConfigError(reply["errors"])
            raise JobError(reply["error"])
        return reply.get("result")

    def attach(self, join, sid):
        join()
        if self.state == "created":  # still queued: its events, from seq 1, will come to the room
            self.backend.emit("history", waiting_history(self.id, self.kind, "waiting for a training worker"), sid)
            return
        self._request("send_history", sid=sid)

    def stop(self, message=STOPPED_BY_USER):
        if self.state == "created" and self.backend.cancel(self.id):  # not taken by a worker yet: cancelled
            return None
        return super().stop(message)

    def end_now(self, message):
        """Nothing to end here: the job trains on a worker, which ends it when it can."""

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True


class RedisBackend:
    """Queue jobs for remote workers; find any job by id; fail jobs whose worker has gone silent."""

    def __init__(self, url, emit, spawn, flush_interval=0.1):
        self.url, self.emit = url, emit
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.queue = Queue(QUEUE, connection=self.redis)
        self.logs = {}  # job id -> EventLog, for the jobs launched here until their archive is stored
        self._running = True
        spawn(self._monitor)

    def launch(self, job_id, spec, configs, owner):
        kind = f"compare:{spec['comparison']}" if spec.get("comparison") else "train"
        meta = {"owner": owner, "kind": kind, "configs": json.dumps(configs), "created": time.time()}
        try:
            self.redis.pipeline().hset(key("job", job_id), mapping={**meta, "state": "created", "message": "",
                                                                    "seq": 0}) \
                .sadd(PREFIX + "active", job_id).execute()
            self.queue.enqueue(run_job, job_id, spec, self.url, meta, job_id=f"bpnet-{job_id}",
                               job_timeout=JOB_TIMEOUT, result_ttl=600, failure_ttl=86400)
        except redis.RedisError as exc:
            raise _unavailable(exc)
        self.logs[job_id] = EventLog(job_id, kind)
        return RedisJob(self, job_id, meta)

    def log_events(self, job_id, events):
        """Events of a job seen on the Socket.IO channel (web/redis_queue.py): kept if it was launched here."""
        log = self.logs.get(job_id)
        if log is not None:
            for event in events:
                log.add(event)

    def lookup(self, job_id):
        """(job, owner) for any job recorded in Redis, or None."""
        try:
            record = {k.decode(): v.decode() for k, v in self.redis.hgetall(key("job", job_id)).items()}
        except redis.RedisError as exc:
            raise _unavailable(exc)
        return (RedisJob(self, job_id, record), record.get("owner", "")) if record else None

    def active_owners(self, local_entries):
        """Owners of every unfinished job, on all web processes."""
        try:
            ids = [i.decode() for i in self.redis.smembers(PREFIX + "active")]
            records = [self.redis.hmget(key("job", i), "owner", "state") for i in ids]
        except redis.RedisError as exc:
            raise _unavailable(exc)
        # (a job that has ended stays in the set while its worker stores the archive: its slot is free already)
        return [owner.decode() for owner, state in records if owner is not None and (state or b"").decode()
                not in TERMINAL]

    def cancel(self, job_id):
        """Stop a job no worker has taken yet; False if one has. The web and a worker race to set its host field:
        the worker sets its name, this sets "" (and the worker then skips the job)."""
        try:
            if not self.redis.hsetnx(key("job", job_id), "host", ""):
                return False
            self.end(job_id, "stopped", "stopped before a worker took it")
        except redis.RedisError as exc:
            raise _unavailable(exc)
        return True

    def end(self, job_id, state, message):
        """Record a job's end decided here (cancelled in the queue, or its worker lost) and tell its room."""
        record = self.redis.hgetall(key("job", job_id))
        seq = int(record.get(b"seq", 0)) + 1
        self.redis.pipeline().hset(key("job", job_id), mapping={"state": state, "message": message, "seq": seq}) \
            .srem(PREFIX + "active", job_id).execute()
        self.emit("events", [{"type": "state", "job_id": job_id, "seq": seq, "run": 0, "state": state,
                              "message": message}], room_of(job_id))

    def _monitor(self):
        """Every second: fail unfinished jobs whose worker's heartbeat has stopped; drop the event logs of ended
        jobs whose archive is stored."""
        reachable_since = time.monotonic()  # a heartbeat is only judged once the workers have had time to beat
        while self._running:
            time.sleep(1.0)
            try:
                self.redis.ping()
                reachable_since = reachable_since or time.monotonic()
                settled = time.monotonic() - reachable_since > HEARTBEAT_TTL + 1  # (after an outage)
                for job_id, events in list(self.logs.items()):
                    if events.state in TERMINAL and self.redis.exists(key("archive", job_id)):
                        self.logs.pop(job_id, None)
                for raw in self.redis.smembers(PREFIX + "active"):
                    job_id = raw.decode()
                    record = self.redis.hgetall(key("job", job_id))
                    if not record or not settled or self.redis.exists(key("hb", job_id)):
                        continue
                    state = record.get(b"state", b"").decode()
                    if state in TERMINAL:  # it ended, but its worker went before storing the archive
                        self.redis.srem(PREFIX + "active", job_id)
                        continue
                    queued = state == "created" and b"host" not in record  # no worker has taken it yet
                    age = time.time() - float(record.get(b"created", b"0"))
                    if queued and age < START_PATIENCE:
                        continue
                    reason = ("no training worker took this job within a minute: are workers running?"
                              if queued else
                              "the training worker stopped responding (killed, or its machine or Redis went "
                              "away); the job is lost: start again")
                    log.warning("job %s failed: %s", job_id, reason)
                    self.end(job_id, "failed", reason)
            except redis.RedisError as exc:
                if reachable_since:
                    log.warning("Redis unreachable while checking workers: %s", exc)
                reachable_since = None
            except Exception:  # noqa: BLE001 - this thread fails lost jobs: it must go on
                log.exception("checking the workers failed")

    def forget(self, job_id):
        self.logs.pop(job_id, None)

    def shutdown(self):
        self._running = False
