"""Who owns which job, the server-wide limits, and clients that leave: the web side's bookkeeping.

Framework-free: the backend (web/backends.py) runs the jobs and relays their events; the Socket.IO layer
passes in its emit and background-task functions through it; the tests drive this directly.
"""
import logging
import secrets
import threading
import time
from collections import OrderedDict

from bpnet.engine import budget
from bpnet.engine.config import validate_config, validate_field
from bpnet.engine.experiments import comparison_runs
from bpnet.engine.job import TERMINAL
from bpnet.engine.relay import room_of

from .backends import ServiceError
from .uploads import UploadStore

__all__ = ["JobManager", "ServiceError", "room_of", "prepare", "page_of"]

log = logging.getLogger("bpnet.web")
SHUTDOWN = "stopped: the server was shut down"


def prepare(config, comparison, limits=None):
    """(spec, validated configs) for a start request; raises ConfigError field by field (budget included)."""
    if comparison is not None:
        configs = [validate_config(c) for _, c in comparison_runs(comparison, config or None)]
    else:
        configs = [validate_config(config if config is not None else {})]
    budget.check(configs, limits)
    return {"config": config, "comparison": comparison}, configs


def page_of(job):
    """The dashboard page that shows a job: its task's, or the compare page."""
    return "compare" if job.kind.startswith("compare") else job.config["task"]


class Entry:
    __slots__ = ("job", "owner", "created")

    def __init__(self, job, owner):
        self.job, self.owner, self.created = job, owner, time.time()


class JobManager:
    """Starts jobs for clients within the limits, checks ownership, stops orphans after a grace period."""

    def __init__(self, backend, max_running=2, grace_seconds=30.0, keep_finished=50, limits=None):
        self.backend, self.limits = backend, limits  # limits: each job's budget (engine/budget.py Limits)
        self.max_running, self.grace_seconds = max_running, grace_seconds
        self.keep_finished = keep_finished
        self.uploads = UploadStore()  # one's own data between its preview and the Start that names it
        self._jobs = OrderedDict()
        self._starting = []  # owners whose job is being built
        self._lock = threading.Lock()
        self._connections = {}  # client -> set of sids
        self._orphan_timers = {}

    # --- jobs ---------------------------------------------------------------------------------
    def start(self, owner, config=None, comparison=None, paused=False, replacing=None):
        """Create and start a job for `owner` (paused: waiting at step 0, step mode); raises ConfigError or
        ServiceError (busy, already running). replacing: the id of the owner's job this one takes the place of
        (being stopped: rewind), not counted as running (one job per owner: the owner's slot passes to this one)."""
        with self._lock:  # reserve a slot; building the job (loading data) happens outside the lock
            # owners, not jobs: a job being started is briefly both recorded and starting (one job per owner)
            running = set(self.backend.active_owners(list(self._jobs.values())))
            if replacing is not None:  # the owner's one job is the one being replaced: its slot is this one's
                running.discard(owner)
            running |= set(self._starting)
            if owner in running:
                mine = next((e.job for e in self._jobs.values() if e.owner == owner and not e.job.done), None)
                raise ServiceError("you already have a job running: stop it before starting another",
                                   **({"job_id": mine.id, "page": page_of(mine)} if mine is not None else {}))
            if len(running) >= self.max_running:
                raise ServiceError("server busy, try again in a moment "
                                   f"({len(running)} of {self.max_running} training slots in use)")
            self._starting.append(owner)
        try:
            config = self.uploads.resolve(config)
            spec, configs = prepare(config, comparison, self.limits)
            spec["paused"] = bool(paused)
            job = self.backend.launch(secrets.token_urlsafe(12), spec, configs, owner)
            with self._lock:
                self._jobs[job.id] = Entry(job, owner)
                self._prune()
        finally:
            with self._lock:
                self._starting.remove(owner)
        return job

    def rewind(self, owner, job_id, lr=None):
        """Stop `owner`'s job and start its config again, paused at step 0, with the same seed (same initial
        weights and data order), with `lr` if given; returns the new job. The old job is stopped only once the
        new config is known to be valid."""
        old = self.owned(owner, job_id).job
        if old.kind != "train":
            raise ServiceError("rewind applies to a single run: start the comparison again instead")
        config = dict(old.config)
        if lr is not None:
            config["lr"] = validate_field("lr", lr, config["task"])
        prepare(config, None, self.limits)  # a ConfigError here leaves the old job as it was
        if old.done:  # an ended job: a start like any other (refused if the owner runs another job)
            return self.start(owner, config=config, paused=True)
        old.stop("stopped: rewound to step 0")
        return self.start(owner, config=config, paused=True, replacing=old.id)

    def get(self, job_id):
        if not isinstance(job_id, str):
            raise ServiceError("unknown job id (it may have expired)")
        entry = self._jobs.get(job_id)
        if entry is None:
            found = self.backend.lookup(job_id)  # a job another web process started (Redis mode)
            if found is None:
                raise ServiceError("unknown job id (it may have expired)")
            entry = Entry(*found)
        return entry

    def owned(self, owner, job_id):
        """The entry of a job `owner` may control."""
        entry = self.get(job_id)
        if entry.owner != owner:
            raise ServiceError("this job belongs to another session: you can watch it, not control it")
        return entry

    def running_count(self):
        with self._lock:  # start() and _prune() change the dict from other threads
            entries = list(self._jobs.values())
        return len(self.backend.active_owners(entries))

    def _prune(self):
        """Forget the oldest ended jobs beyond keep_finished (their relays have finished)."""
        ended = [k for k, e in self._jobs.items() if e.job.done]
        for job_id in ended[:max(0, len(ended) - self.keep_finished)]:
            del self._jobs[job_id]
            self.backend.forget(job_id)

    def stop_all(self, timeout=10.0, message=SHUTDOWN):
        """Stop every job and wait for them (server shutdown); a job still in a step after `timeout` is ended at
        once, so its watchers learn how it ended before the server goes."""
        with self._lock:
            entries = [e for e in self._jobs.values() if not e.job.done]
        for e in entries:
            try:
                e.job.stop(message)
            except Exception:  # noqa: BLE001 - a job that cannot be reached must not stop the others
                log.exception("could not stop job %s", e.job.id)
        deadline = time.monotonic() + timeout
        for e in entries:
            e.job.wait(max(0.0, deadline - time.monotonic()))
        for e in entries:
            if not e.job.done:
                e.job.end_now(message + " in the middle of a training step")

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
            e.job.stop(f"stopped: its page was closed and did not come back within {self.grace_seconds:g} s")
