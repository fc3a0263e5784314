"""Where jobs train: threads in the web process (the default) or a pool of worker processes.

Both give the JobManager job objects with one interface (that of bpnet.engine.Job): id, kind, config,
run_count, state, message, done; pause/resume/stop/set_lr; history/history_csv/model_npz/predict_digit;
plus attach(join, sid), which joins a client to the job's room and sends it the history, ordered with the
events. Emitting goes through `emit(name, data, to)`, background loops through `spawn(fn)`.
"""
import itertools
import logging
import multiprocessing
import os
import queue
import socket
import threading
import time

from bpnet.engine.archive import JobArchive
from bpnet.engine.host import build_job, host_job
from bpnet.engine.job import TERMINAL, JobError
from bpnet.engine.relay import Relay

__all__ = ["LocalBackend", "ProcessBackend", "RemoteJob", "ServiceError", "waiting_history"]

log = logging.getLogger("bpnet.web")
START_PATIENCE = 60  # seconds a job may wait for a worker process to take it before it is failed


class ServiceError(Exception):
    """A request the server refuses, with a message for the user."""


# --- threads in this process -------------------------------------------------------------------------
class LocalJob:
    """A Job training in a thread here; once it has ended, only its archive is kept (memory stays flat)."""

    def __init__(self, job, emit, flush_interval):
        self._target = job
        self.relay = Relay(job.id, emit, flush_interval)
        self._unsubscribe = job.subscribe(self.relay.add)

    def __getattr__(self, name):
        return getattr(self._target, name)

    def attach(self, join, sid):
        with self.relay.lock:
            join()
            self._target.send_history(lambda h: self.relay.emit("history", h, sid))

    def run_relay(self):
        job = self._target
        self.relay.run(lambda: job.done)
        self._unsubscribe()
        self._target = JobArchive.from_job(job)  # drop the trainers: optimiser state, caches, data


class LocalBackend:
    """Jobs train in background threads of the web process."""

    def __init__(self, emit, spawn, flush_interval=0.1):
        self.emit, self.spawn, self.flush_interval = emit, spawn, flush_interval

    def launch(self, job_id, spec, configs, owner):
        job = LocalJob(build_job(job_id, spec), self.emit, self.flush_interval)
        self.spawn(job.run_relay)
        job.start()
        return job

    def forget(self, job_id):
        pass

    def shutdown(self):
        pass

    lookup = staticmethod(lambda job_id: None)  # every job of this backend is in the manager's table
    active_owners = staticmethod(lambda local_entries: [e.owner for e in local_entries if not e.job.done])


# --- a pool of worker processes ----------------------------------------------------------------------
def waiting_history(job_id, kind, message="starting"):
    """The history of a job that has not begun yet: its events, from seq 1, follow in the room."""
    return {"type": "history", "job_id": job_id, "seq": 0, "run": 0, "kind": kind, "state": "created",
            "message": message, "runs": []}


class RemoteJob:
    """The web process's view of a job hosted elsewhere: requests go out, replies and events come back."""

    def __init__(self, job_id, kind, configs, send_request, emit, flush_interval, reply_timeout=15.0):
        self.id, self.kind, self.configs = job_id, kind, configs
        self.state, self.message, self.seq = "created", "", 0
        self.archive, self.host = None, None
        self.relay = Relay(job_id, emit, flush_interval)
        self._send_request, self._reply_timeout = send_request, reply_timeout
        self._replies, self._ids = {}, itertools.count(1)
        self._ended = threading.Event()
        self.created = time.monotonic()

    config = property(lambda self: self.configs[0])
    run_count = property(lambda self: len(self.configs))
    done = property(lambda self: self.state in TERMINAL)

    # --- messages from the host ---------------------------------------------------------------
    def receive(self, message):
        kind = message["kind"]
        if kind == "event":
            event = message["event"]
            self.seq = max(self.seq, event["seq"])
            if event["type"] == "state":
                self.state, self.message = event["state"], event["message"]
            self.relay.add(event)
        elif kind == "history":
            self.relay.deliver_history(message["event"], message["sid"])
        elif kind == "reply":
            slot = self._replies.get(message["req"])
            if slot is not None:
                slot[1] = message
                slot[0].set()
        elif kind == "archive":
            self.archive = JobArchive.from_bytes(message["data"])
            self.state, self.message = self.archive.state, self.archive.message
            self._ended.set()
            for slot in list(self._replies.values()):  # sent after the host stopped reading: the archive answers
                slot[0].set()
        elif kind == "host":
            self.host = message

    def fail(self, message):
        """The host is gone: tell the watchers and end here (the history so far is what they have)."""
        if not self.done:  # else it had ended but died before sending its archive: only stop waiting for it
            self.seq += 1
            self.state, self.message = "failed", message
            self.relay.add({"type": "state", "job_id": self.id, "seq": self.seq, "run": 0, "state": "failed",
                            "message": message})
            self.relay.flush()
        self._ended.set()
        for slot in list(self._replies.values()):
            slot[1] = {"ok": False, "error": message}
            slot[0].set()

    # --- requests -----------------------------------------------------------------------------
    def _request(self, op, *args, sid=None):
        if self.archive is not None:
            if op == "send_history":
                return self.archive.send_history(lambda h: self.relay.deliver_history(h, sid))
            return getattr(self.archive, op)(*args)
        if self._ended.is_set():
            raise ServiceError(f"this job {self.state}: {self.message}")
        req = next(self._ids)
        slot = self._replies[req] = [threading.Event(), None]
        try:
            if self.archive is None and not self._ended.is_set():  # checked again now that an end releases the slot
                self._send_request({"op": op, "args": list(args), "req": req, "sid": sid, "job_id": self.id})
                if not slot[0].wait(self._reply_timeout):
                    raise ServiceError("the training worker did not answer in time; try again")
        finally:
            self._replies.pop(req, None)
        reply = slot[1]
        if reply is None:  # the job ended before its host read the request: its archive answers
            return self._request(op, *args, sid=sid)
        if not reply["ok"]:
            if reply.get("errors"):
                from bpnet.engine.config import ConfigError
                raise ConfigError(reply["errors"])
            raise JobError(reply["error"])
        return reply.get("result")

    def attach(self, join, sid):
        with self.relay.lock:  # events are routed through the relay: none can slip between these steps
            join()
            if self.seq == 0 and self.archive is None:  # nothing happened yet: every event will reach sid
                self.relay.emit("history", waiting_history(self.id, self.kind), sid)
                return
        self._request("send_history", sid=sid)

    def pause(self):
        return self._request("pause")

    def resume(self):
        return self._request("resume")

    def stop(self):
        return None if self.done else self._request("stop")

    def set_lr(self, lr):
        return self._request("set_lr", lr)

    def history(self):
        return self._request("history")

    def history_csv(self, run=0):
        return self._request("history_csv", run)

    def model_npz(self, run=0):
        return self._request("model_npz", run)

    def predict_digit(self, pixels, run=0):
        import numpy as np
        return np.asarray(self._request("predict_digit", pixels, run))

    def wait(self, timeout=None):
        return self._ended.wait(timeout)


def _init_worker(level):
    """Pool worker start-up: log like the web process (one line per job start and end)."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s")


def run_in_worker(job_id, spec, outbox, inbox):
    """Pool task: build and host one job in this worker process."""
    def receive(timeout):
        try:
            return inbox.get(timeout=timeout)
        except queue.Empty:
            return None
    # say where the job runs before building it (loading data takes a while): a death from now on is noticed
    outbox.put({"kind": "host", "job_id": job_id, "pid": os.getpid(), "hostname": socket.gethostname()})
    try:
        job = build_job(job_id, spec)
    except Exception as exc:  # noqa: BLE001 - reported to the user as the job's failure
        outbox.put({"kind": "event", "job_id": job_id, "event": {
            "type": "state", "job_id": job_id, "seq": 1, "run": 0, "state": "failed",
            "message": f"could not start: {exc}"}})
        return
    host_job(job, outbox.put, receive)


class ProcessBackend:
    """Jobs train in a multiprocessing pool (spawn); a router thread here relays their messages.

    A worker that dies (even by SIGKILL) fails its job with a clear message; the pool starts a new worker.
    """

    def __init__(self, emit, spawn, workers, flush_interval=0.1):
        self.emit, self.flush_interval = emit, flush_interval
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):  # one BLAS thread per worker process
            os.environ.setdefault(var, "1")
        ctx = multiprocessing.get_context("spawn")
        self._mp = ctx.Manager()
        self._outbox = self._mp.Queue()
        self._pool = ctx.Pool(workers, initializer=_init_worker, initargs=(logging.getLogger().level,))
        self._jobs, self._procs = {}, {}
        self._running = True
        spawn(self._route)
        spawn(self._watch)

    def launch(self, job_id, spec, configs, owner):
        inbox = self._mp.Queue()
        kind = f"compare:{spec['comparison']}" if spec.get("comparison") else "train"
        job = RemoteJob(job_id, kind, configs, inbox.put, self.emit, self.flush_interval)
        self._jobs[job_id] = job
        self._pool.apply_async(run_in_worker, (job_id, spec, self._outbox, inbox))
        return job

    def _route(self):
        """Deliver every message from the workers to its job, in order."""
        while self._running:
            try:
                message = self._outbox.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):  # the manager is gone: shutting down
                return
            job = self._jobs.get(message["job_id"])
            if job is not None:
                job.receive(message)

    def _watch(self):
        """Flush the relays every interval; fail the jobs whose worker process has died."""
        while self._running:
            time.sleep(self.flush_interval)
            for p in list(getattr(self._pool, "_pool", [])):  # the pool's worker processes (kept once seen,
                self._procs.setdefault(p.pid, p)              # so a dead one's exit code can still be read)
            for job_id, job in list(self._jobs.items()):
                job.relay.flush()
                if job.archive is not None or job._ended.is_set():
                    continue
                pid = (job.host or {}).get("pid")
                if pid is None and time.monotonic() - job.created > START_PATIENCE:
                    log.error("no worker process took job %s in %d s: is the pool stuck?", job_id, START_PATIENCE)
                    job.fail("no worker process took this job within a minute; the server may need a restart")
                    continue
                proc = self._procs.get(pid)
                if proc is not None and (proc.exitcode is not None or not proc.is_alive()):
                    code = proc.exitcode
                    how = f" (killed by signal {-code})" if code is not None and code < 0 else ""
                    if not job.done:  # (else it died after its job's end, before sending the archive)
                        log.warning("worker process %s running job %s died%s", pid, job_id, how)
                    job.fail(f"the worker process training this job died{how}; the job is lost. "
                             "The server has started a new worker: you can start again.")

    def forget(self, job_id):
        self._jobs.pop(job_id, None)

    lookup, active_owners = staticmethod(LocalBackend.lookup), staticmethod(LocalBackend.active_owners)

    def shutdown(self):
        self._running = False
        self._pool.terminate()
        self._mp.shutdown()
