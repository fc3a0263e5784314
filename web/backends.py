"""Where jobs train: threads in the web process (the default); the view of a job hosted elsewhere.

Both give the JobManager job objects with one interface (that of bpnet.engine.Job): id, kind, config,
run_count, state, message, done; pause/resume/stop/step/set_lr/set_pace; history/history_csv/model_npz/predict_digit;
plus attach(join, sid), which joins a client to the job's room and sends it the history, ordered with the
events. Emitting goes through `emit(name, data, to)`, background loops through `spawn(fn)`.
"""
import itertools
import logging
import threading
import time

from bpnet.engine.archive import JobArchive
from bpnet.engine.heap import give_back
from bpnet.engine.host import build_job
from bpnet.engine.job import STOPPED_BY_USER, TERMINAL, JobError
from bpnet.engine.relay import Relay
from bpnet.engine.replay import EventLog

__all__ = ["LocalBackend", "LoadedJob", "page_of", "RemoteJob", "RequestOps", "ServiceError", "waiting_history", "lost_job_answer"]

log = logging.getLogger("bpnet.web")


class ServiceError(Exception):
    """A request the server refuses, with a message for the user (and `details` for the page, e.g. which job)."""

    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


def page_of(job):
    """The dashboard page that shows a job: its task's, or the compare page."""
    return "compare" if job.kind.startswith("compare") else job.config["task"]


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

    def end_now(self, message):
        """End the job at once (see Job.end_now) and send its last events straight away."""
        self._target.end_now(message)
        self.relay.flush()

    def run_relay(self):
        job = self._target
        self.relay.run(lambda: job.done)
        self._unsubscribe()
        self._unsubscribe = None
        self._target = JobArchive.from_job(job)  # drop the trainers: optimiser state, caches, data
        del job
        give_back()


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


class LoadedJob:
    """A model uploaded to the dashboard (an ended job of kind 'loaded', see JobArchive.from_model), shown by its
    page like any ended job: attach sends its history."""

    def __init__(self, archive, emit):
        self._target, self._emit = archive, emit

    def __getattr__(self, name):
        return getattr(self._target, name)

    def attach(self, join, sid):
        join()
        self._emit("history", self._target.history_event(), sid)


# --- jobs hosted elsewhere ---------------------------------------------------------------------------
def waiting_history(job_id, kind, message="starting"):
    """The history of a job that has not begun yet: its events, from seq 1, follow in the room."""
    return {"type": "history", "job_id": job_id, "seq": 0, "run": 0, "kind": kind, "state": "created",
            "message": message, "runs": []}


def lost_job_answer(job, op, args, send_history):
    """What a job whose host is gone can still answer, from the events relayed (job.log): its history."""
    if job.log is None or op not in ("history", "history_csv", "send_history"):
        raise ServiceError(f"this job {job.state}: {job.message}" + (
            "; its model was lost with it" if op in ("model_npz", "predict_digit") else ""))
    if op == "send_history":
        return send_history(job.log.history_event())
    try:
        return getattr(job.log, op)(*args)
    except IndexError as exc:
        raise JobError(str(exc))


class RequestOps:
    """A job's controls and downloads as requests to wherever it is hosted: the class defines _request(op, *args)."""

    def pause(self):
        return self._request("pause")

    def resume(self):
        return self._request("resume")

    def stop(self, message=STOPPED_BY_USER):
        return None if self.done else self._request("stop", message)

    def step(self, steps=1):
        return self._request("step", steps)

    def xray(self, run=0):
        return self._request("xray", run)

    def set_lr(self, lr):
        return self._request("set_lr", lr)

    def set_pace(self, pace):
        return self._request("set_pace", pace)

    def history(self):
        return self._request("history")

    def history_csv(self, run=0):
        return self._request("history_csv", run)

    def model_npz(self, run=0):
        return self._request("model_npz", run)

    def predict_digit(self, pixels, run=0):
        import numpy as np
        return np.asarray(self._request("predict_digit", pixels, run))


class RemoteJob(RequestOps):
    """The web process's view of a job hosted elsewhere: requests go out, replies and events come back."""

    def __init__(self, job_id, kind, configs, send_request, emit, flush_interval, reply_timeout=15.0):
        self.id, self.kind, self.configs = job_id, kind, configs
        self.state, self.message, self.seq = "created", "", 0
        self.archive, self.host = None, None
        self.log = EventLog(job_id, kind)  # its history from its events, should the host be lost (None once archived)
        self.relay = Relay(job_id, emit, flush_interval)
        self._send_request, self._reply_timeout = send_request, reply_timeout
        self._replies, self._ids = {}, itertools.count(1)
        self._ended = threading.Event()
        self._ending = threading.Lock()  # an end declared here (fail) and events from the host: one at a time
        self.created = time.monotonic()

    config = property(lambda self: self.configs[0])
    run_count = property(lambda self: len(self.configs))
    done = property(lambda self: self.state in TERMINAL)

    # --- messages from the host ---------------------------------------------------------------
    def receive(self, message):
        kind = message["kind"]
        if kind == "event":
            with self._ending:
                if self._ended.is_set():  # relayed late from a host declared lost: its watchers were told it ended
                    return
                event = message["event"]
                self.seq = max(self.seq, event["seq"])
                if event["type"] == "state":
                    self.state, self.message = event["state"], event["message"]
                if self.log is not None:
                    self.log.add(event)
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
            self.state, self.message, self.log = self.archive.state, self.archive.message, None
            self._ended.set()
            for slot in list(self._replies.values()):  # sent after the host stopped reading: the archive answers
                slot[0].set()
        elif kind == "host":
            self.host = message

    def fail(self, message, state="failed"):
        """The host is gone: tell the watchers and end here (the history so far is what they have; events still
        on their way from the host are dropped)."""
        with self._ending:
            if not self.done:  # else it had ended but died before sending its archive: only stop waiting for it
                self.seq += 1
                self.state, self.message = state, message
                event = {"type": "state", "job_id": self.id, "seq": self.seq, "run": 0, "state": state,
                         "message": message}
                if self.log is not None:
                    self.log.add(event)
                self.relay.add(event)
                self.relay.flush()
            self._ended.set()
        for slot in list(self._replies.values()):
            slot[1] = {"ok": False, "error": message}
            slot[0].set()

    def end_now(self, message):
        """End here at once, 'stopped' (a server shutting down: its host is about to be ended too)."""
        self.fail(message, state="stopped")

    # --- requests -----------------------------------------------------------------------------
    def _request(self, op, *args, sid=None):
        if self.archive is not None:
            if op == "send_history":
                return self.archive.send_history(lambda h: self.relay.deliver_history(h, sid))
            return getattr(self.archive, op)(*args)
        if self._ended.is_set():
            return lost_job_answer(self, op, args, lambda h: self.relay.deliver_history(h, sid))
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

    def wait(self, timeout=None):
        return self._ended.wait(timeout)
