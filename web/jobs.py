"""Who owns which job, server-wide limits, and the relay that forwards a job's events to its room.

Framework-free: the Socket.IO layer passes in `emit(event, data, to)` and `spawn(fn)`; the tests drive it
directly. Events of job J go to room "job:J" at most `flush_interval`-ly, batched in one 'events' message.
"""
import logging
import threading
import time
from collections import OrderedDict

from bpnet.engine.experiments import compare_job
from bpnet.engine.job import TERMINAL, Job

__all__ = ["JobManager", "Relay", "ServiceError", "room_of"]

log = logging.getLogger("bpnet.web")


class ServiceError(Exception):
    """A request the server refuses, with a message for the user."""


def room_of(job_id):
    return f"job:{job_id}"


class Relay:
    """Buffers a job's events and emits them in one message per flush interval; ends after the job does."""

    def __init__(self, job, emit, flush_interval=0.1):
        self.job, self.emit, self.flush_interval = job, emit, flush_interval
        self.lock = threading.Lock()  # held while emitting, so a joining watcher's history comes first
        self._buffer = []
        self._buffer_lock = threading.Lock()
        self._unsubscribe = job.subscribe(self._collect)
        self.sent = 0

    def _collect(self, event):
        if event["type"] != "history":
            with self._buffer_lock:
                self._buffer.append(event)

    def flush(self):
        with self.lock:
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if batch:
                self.emit("events", batch, room_of(self.job.id))
                self.sent += 1

    def attach(self, join, send):
        """join() the client to the room and send(history): no event is lost or arrives before the history."""
        with self.lock:
            join()
            send(self.job.history_event())

    def run(self):
        """Flush until the job has ended and every event has gone out."""
        try:
            while not self.job.done:
                time.sleep(self.flush_interval)
                self.flush()
            self.flush()
        finally:
            self._unsubscribe()


class Entry:
    __slots__ = ("job", "owner", "relay", "created")

    def __init__(self, job, owner, relay):
        self.job, self.owner, self.relay, self.created = job, owner, relay, time.time()


class JobManager:
    """Starts jobs for clients within the limits, checks ownership, stops orphans after a grace period."""

    def __init__(self, emit, spawn, max_running=2, grace_seconds=30.0, keep_finished=50, flush_interval=0.1):
        self.emit, self.spawn = emit, spawn
        self.max_running, self.grace_seconds = max_running, grace_seconds
        self.keep_finished, self.flush_interval = keep_finished, flush_interval
        self._jobs = OrderedDict()
        self._starting = []  # owners whose job is being built
        self._lock = threading.Lock()
        self._connections = {}  # client -> set of sids
        self._orphan_timers = {}

    # --- jobs ---------------------------------------------------------------------------------
    def start(self, owner, config=None, comparison=None):
        """Create and start a job for `owner`; raises ConfigError or ServiceError (busy, already running)."""
        with self._lock:  # reserve a slot; building the job (loading data) happens outside the lock
            running = [e.owner for e in self._jobs.values() if not e.job.done] + self._starting
            if owner in running:
                raise ServiceError("you already have a job running: stop it before starting another")
            if len(running) >= self.max_running:
                raise ServiceError("server busy, try again in a moment "
                                   f"({len(running)} of {self.max_running} training slots in use)")
            self._starting.append(owner)
        try:
            job = compare_job(comparison, config) if comparison else Job(config)
            entry = Entry(job, owner, Relay(job, self.emit, self.flush_interval))
            with self._lock:
                self._jobs[job.id] = entry
                self._prune()
        finally:
            with self._lock:
                self._starting.remove(owner)
        self.spawn(entry.relay.run)
        job.start()
        return job

    def get(self, job_id):
        entry = self._jobs.get(job_id) if isinstance(job_id, str) else None
        if entry is None:
            raise ServiceError("unknown job id (it may have expired)")
        return entry

    def owned(self, owner, job_id):
        """The entry of a job `owner` may control."""
        entry = self.get(job_id)
        if entry.owner != owner:
            raise ServiceError("this job belongs to another session: you can watch it, not control it")
        return entry

    def running_count(self):
        with self._lock:  # start() and _prune() change the dict from other threads
            return sum(not e.job.done for e in self._jobs.values())

    def _prune(self):
        """Forget the oldest ended jobs beyond keep_finished (their relays have finished)."""
        ended = [k for k, e in self._jobs.items() if e.job.done]
        for job_id in ended[:max(0, len(ended) - self.keep_finished)]:
            del self._jobs[job_id]

    def stop_all(self, timeout=10.0):
        """Stop every job and wait for them (server shutdown)."""
        with self._lock:
            entries = list(self._jobs.values())
        for e in entries:
            e.job.stop()
        deadline = time.monotonic() + timeout
        for e in entries:
            e.job.wait(max(0.0, deadline - time.monotonic()))

    # --- clients ------------------------------------------------------------------------------
    def connected(self, client, sid):
        with self._lock:
            self._connections.setdefault(client, set()).add(sid)
            timer = self._orphan_timers.pop(client, None)
        if timer:
            timer.cancel()

    def disconnected(self, client, sid):
        """When a client's last connection goes, stop its running jobs unless it returns within the grace period."""
        with self._lock:
            sids = self._connections.get(client, set())
            sids.discard(sid)
            if sids:
                return
            self._connections.pop(client, None)
            if not any(e.owner == client and not e.job.done for e in self._jobs.values()):
                return
            timer = threading.Timer(self.grace_seconds, self._stop_orphans, args=(client,))
            timer.daemon = True
            self._orphan_timers[client] = timer
        timer.start()

    def _stop_orphans(self, client):
        with self._lock:
            if client in self._connections:
                return
            self._orphan_timers.pop(client, None)
            entries = [e for e in self._jobs.values() if e.owner == client and e.job.state not in TERMINAL]
        for e in entries:
            log.info("job %s stopped: its client left %.0f s ago", e.job.id, self.grace_seconds)
            e.job.stop()
