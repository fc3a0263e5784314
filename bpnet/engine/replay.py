"""A job's history rebuilt from its events, where the job itself is out of reach.

The web process relays every event of a job that trains elsewhere (a worker process, a Redis worker); an
EventLog keeps them as the job's Recorders keep their records, so when the job is lost (its worker killed, by
the OOM killer or an operator) its history, CSV and history event stay available: what its watchers saw, to
the last event relayed. Its views are the Recorder's own (summary, csv), so they read exactly like a Job's. A
'steps' event under a schedule carries every step's learning rate (lr_steps); otherwise the rate is constant
between changes made with set_lr, which are placed at their step.
"""
import functools
import threading
import types

from .events import Series, clean
from .recorder import STEP_COLUMNS, Recorder, norm_interval

__all__ = ["EventLog"]

META = ("type", "job_id", "seq", "run", "time")


def _payload(event):
    return {k: v for k, v in event.items() if k not in META}


class _Run:
    """One run's history as a Recorder holds it (borrowing the Recorder's summary and CSV)."""

    summary, csv = Recorder.summary, Recorder.csv
    _keeps, pending_norms = Recorder._keeps, Recorder.pending_norms  # the norms history thinned as it grows

    def __init__(self):
        self.label, self._dataset = "", {}
        self.steps = Series(STEP_COLUMNS)
        self.evals, self.norm_history, self.lr_changes, self.dists = [], [], [], []
        self.snapshot_payload = self.final = None
        self.failure, self.verdict = "", None
        self.trainer = types.SimpleNamespace(step=0, total_steps=0)
        self._lr, self._pending = None, []  # the rate of the last step reported; changes since
        self.norm_every, self._pending_norms = 1, []

    @property
    def _reported(self):
        return len(self.steps)

    def dataset_event(self):
        return self._dataset

    def add(self, event):
        kind = event["type"]
        if kind == "dataset":
            self._dataset = _payload(event)
            self.label, self.trainer.total_steps = self._dataset.get("label", ""), self._dataset.get("total_steps", 0)
        elif kind == "steps":
            self._add_steps(event)
        elif kind == "eval":
            self.evals.append(_payload(event))
        elif kind == "norms":
            self._pending_norms.append(_payload(event))
            self.pending_norms()
        elif kind == "dists":
            self.dists.append(_payload(event))
        elif kind == "snapshot":
            self.snapshot_payload = _payload(event)
        elif kind == "lr":
            self.lr_changes.append((event["step"], event["lr"]))
            self._pending.append((event["step"], event["lr"]))
        elif kind == "done":
            self.verdict = event.get("verdict")
            if event.get("failed"):
                self.failure = event["failed"]
            elif not event.get("stopped"):
                self.final = {k: v for k, v in _payload(event).items() if k != "verdict"}

    def _add_steps(self, event):
        pending, self._pending = self._pending, []  # set_lr changes since the last report: (after step, rate)
        last, rates = event.get("lr"), event.get("lr_steps")
        for i, step in enumerate(event["step"]):
            if rates is not None:
                lr = rates[i]
            elif pending and step <= pending[-1][0]:  # before this report's last change: the rate then in force
                lr = next((rate for s, rate in reversed(pending) if s < step), self._lr)
            else:
                lr = last
            row = {c: event[c][i] for c in ("step", "epoch", "loss", "val_loss", "val_acc") if c in event}
            self.steps.append(lr=lr, **row)
        self._lr = last
        if event["step"]:
            self.trainer.step = event["step"][-1]
            self.norm_every = norm_interval(self.trainer.step)


def _locked(method):
    @functools.wraps(method)
    def under_lock(self, *args):
        with self._lock:
            return method(self, *args)
    return under_lock


class EventLog:
    """Every event of one job (add them in seq order); reads like the Job: history(), history_csv(), history_event().
    Events may be added on one thread while a request reads on another: each call holds the log's lock."""

    def __init__(self, job_id, kind="train"):
        self.job_id, self.kind = job_id, kind
        self.state, self.message, self.seq = "created", "", 0
        self.pace = None  # from 'pace' events (else the config's)
        self._runs = {}
        self._lock = threading.Lock()

    @_locked
    def add(self, event):
        if event["seq"] <= self.seq:  # already logged (a batch may be relayed twice)
            return
        self.seq = event["seq"]
        if event["type"] == "state":
            self.state, self.message = event["state"], event["message"]
        elif event["type"] == "pace":
            self.pace = event["pace"]
        elif event["type"] != "history":
            self._runs.setdefault(event["run"], _Run()).add(event)

    @property
    def run_count(self):
        return max(self._runs, default=-1) + 1

    def _summaries(self, limit=None):
        return [self._runs[i].summary(limit=limit) if i in self._runs else None for i in range(self.run_count)]

    @_locked
    def history(self):
        return clean({"job_id": self.job_id, "state": self.state, "message": self.message,
                      "runs": self._summaries()})

    @_locked
    def history_event(self):
        pace = self.pace
        if pace is None:
            pace = self._runs[0].dataset_event().get("config", {}).get("pace", 0) if 0 in self._runs else 0
        return clean({"type": "history", "job_id": self.job_id, "seq": self.seq, "run": 0, "kind": self.kind,
                      "state": self.state, "message": self.message, "pace": pace, "runs": self._summaries(limit=5000)})

    @_locked
    def history_csv(self, run=0):
        if run not in self._runs:
            raise IndexError(f"run must be from 0 to {self.run_count - 1}")
        return self._runs[run].csv()
