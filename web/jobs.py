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
from bpnet.engine.archive import JobArchive
from bpnet.engine.config import validate_config, validate_field
from bpnet.engine.experiments import comparison_runs
from bpnet.engine.job import TERMINAL
from bpnet.engine.relay import room_of
from bpnet.engine.saved import check_continuation, read as read_model

from .backends import LoadedJob, ServiceError, page_of
from .line import LineMixin
from .uploads import UploadStore
from .waiting import WaitingLine, ordinal

__all__ = ["JobManager", "ServiceError", "room_of", "prepare", "page_of"]

log = logging.getLogger("bpnet.web")
SHUTDOWN = "stopped: the server was shut down"


def prepare(config, comparison, limits=None, initial=None):
    """(spec, validated configs) for a start request; raises ConfigError field by field (budget included).
    initial: the .npz bytes of a model to train on (its network must be the config's)."""
    if comparison is not None:
        if initial is not None:
            raise ServiceError("a comparison trains its variants afresh: it cannot continue a model")
        configs = [validate_config(c) for _, c in comparison_runs(comparison, config or None)]
    else:
        configs = [validate_config(config if config is not None else {})]
    budget.check(configs, limits)
    spec = {"config": config, "comparison": comparison}
    if initial is not None:
        check_continuation(read_model(initial), configs[0])
        spec["initial"] = initial
    return spec, configs


class Entry:
    __slots__ = ("job", "owner", "created", "created_mono", "expected")

    def __init__(self, job, owner):
        self.job, self.owner, self.created, self.created_mono = job, owner, time.time(), time.monotonic()
        self.expected = None


class JobManager(LineMixin):
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
        self._loading = threading.Semaphore(1)
        self._line = WaitingLine()  # starts waiting for a slot (web/waiting.py)
        self.notify = lambda sids, payload: None  # sends a 'queue' event to a client's connections (sockets.py)
        self._wake = threading.Event()  # a slot may have freed, or the line changed: the dispatcher looks
        self._dispatcher = None
        self._started_from_line = 0
        self._closed = False

    # --- jobs ---------------------------------------------------------------------------------
    def start(self, owner, config=None, comparison=None, paused=False, replacing=None, init_from=None, queue=False):
        """Create and start a job for `owner` (paused: waiting at step 0, step mode); raises ConfigError or
        ServiceError (busy, already running). replacing: the id of the owner's job this one takes the place of
        (being stopped: rewind), not counted as running (one job per owner: the owner's slot passes to this one).
        init_from: the id of a job whose (first run's) model the new one trains on. queue: when every slot is
        busy (or others are waiting), join the waiting line instead of being refused: returns a Ticket, and the
        owner hears of its place and its start through notify (web/line.py)."""
        with self._lock:  # reserve a slot; building the job (loading data) happens outside the lock
            running = self._check_owner(owner, replacing)
            # a newcomer never passes those waiting (a rewind keeps its own slot)
            free = len(running) < self.max_running and (not self._line or replacing is not None)
            if not free and not queue:
                raise ServiceError("server busy, try again in a moment "
                                   f"({len(running)} of {self.max_running} training slots in use)")
            if free:
                self._starting.append(owner)
        if not free:
            return self._join(owner, *self._prepare(config, comparison, init_from, paused))
        try:
            job = self._launch(owner, *self._prepare(config, comparison, init_from, paused))
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

    def _check_owner(self, owner, replacing=None):
        """The owners holding a slot (under the lock); ServiceError if `owner` is one of them or is in line.
        replacing: a job of the owner being replaced (rewind): its slot is not counted as the owner's."""
        # owners, not jobs: a job being started is briefly both recorded and starting (one job per owner)
        running = set(self.backend.active_owners(list(self._jobs.values())))
        if replacing is not None:  # the owner's one job is the one being replaced: its slot is this one's
            running.discard(owner)
        running |= set(self._starting)
        if owner in running:
            mine = next((e.job for e in self._jobs.values() if e.owner == owner and not e.job.done), None)
            raise ServiceError("you already have a job running: stop it before starting another",
                               **({"job_id": mine.id, "page": page_of(mine)} if mine is not None else {}))
        ticket = self._line.of(owner)
        if ticket is not None:
            raise ServiceError(f"you are already waiting for a training slot ({ordinal(self._line.position(ticket))} "
                               "in line): leave the line first to start something else")
        return running

    def _prepare(self, config, comparison, init_from, paused=False):
        config = self.uploads.resolve(config)  # one's own data: the digest of its upload becomes the points
        initial = self.get(init_from).job.model_npz(0) if init_from is not None else None
        spec, configs = prepare(config, comparison, self.limits, initial)
        spec["paused"] = bool(paused)
        return spec, configs

    def _launch(self, owner, spec, configs):
        job = self.backend.launch(secrets.token_urlsafe(12), spec, configs, owner)
        with self._lock:
            self._jobs[job.id] = Entry(job, owner)
            self._prune()
        return job

    def load_model(self, owner, npz, name):
        """An ended job of kind 'loaded' for an uploaded model .npz (ModelFileError if unusable), owned by
        `owner`: its page shows what the model does on its setup's data, predicts with it, trains on from it."""
        if not self._loading.acquire(blocking=False):  # each load evaluates the model on its data set
            raise ServiceError("another model is being loaded: try again in a moment")
        try:
            config = read_model(npz).config
            budget.check([config], self.limits)
            job = LoadedJob(JobArchive.from_model(npz, secrets.token_urlsafe(12), name), self.backend.emit)
        finally:
            self._loading.release()
        with self._lock:
            self._jobs[job.id] = Entry(job, owner)
            self._prune()
        return job

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
            self._closed = True
            waiting = [(t, list(self._connections.get(t.owner, ()))) for t in self._line.clear()]
        self._wake.set()
        for ticket, sids in waiting:
            self.notify(sids, {"ticket": ticket.id, "state": "left", "message": "the server was shut down"})
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
            waiting = self._line.of(client) is not None
        if timer:
            timer.cancel()
        if waiting:  # back in time: its turn may have come meanwhile
            self._wake.set()

    def disconnected(self, client, sid):
        """When a client's last connection goes, stop its running jobs unless it returns within the grace period."""
        with self._lock:
            sids = self._connections.get(client, set())
            sids.discard(sid)
            if sids:
                return
            self._connections.pop(client, None)
            if not any(e.owner == client and not e.job.done for e in self._jobs.values()) and \
                    self._line.of(client) is None:  # (one waiting keeps its place, passed over, for the grace period)
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
        if self.leave(client):
            log.info("client %s left the line: gone for %.0f s", client[:8], self.grace_seconds)
        for e in entries:
            log.info("job %s stopped: its client left %.0f s ago", e.job.id, self.grace_seconds)
            e.job.stop(f"stopped: its page was closed and did not come back within {self.grace_seconds:g} s")
