"""The history of one run inside a job: every step, evaluations, norms, the latest picture, final metrics."""
import csv
import io
import time

from .config import formula_warning
from .events import Series, decimate
from .user_data import public_config

__all__ = ["Recorder", "norm_interval", "is_big", "NORM_SAMPLES", "BIG_NETWORK", "BIG_NORM_EVERY"]

STEP_COLUMNS = ("step", "epoch", "loss", "val_loss", "val_acc", "lr")
NORM_SAMPLES = 500  # gradient norms kept per run: every k-th step, k doubling as the run grows
BIG_NETWORK = 100_000  # parameters: a network this big samples its norms (and distributions) less often...
BIG_NORM_EVERY = 8  # ...its norms every 8th step at least: each sample reads every weight and gradient, ~5 %
#                     of an MNIST MLP step (memory-bound), so every step would cost more than the 5 % budget


def is_big(trainer):
    """True when the trainer's network has more than BIG_NETWORK parameters."""
    return sum(p.data.size for p in trainer.net.parameters()) > BIG_NETWORK


def norm_interval(step):
    """The sampling interval of the gradient norms at `step`: 1 for the first NORM_SAMPLES steps, then 2, 4, 8...
    so that a run of any length keeps at most ~NORM_SAMPLES evenly spaced samples (steps, never the clock)."""
    k = 1
    while step > NORM_SAMPLES * k:
        k *= 2
    return k


class Recorder:
    """Collects a Trainer's records; builds the payloads of 'steps', 'eval' and 'snapshot' events."""

    def __init__(self, label, trainer):
        self.label, self.trainer = label, trainer
        self.steps = Series(STEP_COLUMNS)
        self.evals, self.norm_history, self.lr_changes = [], [], []
        self.snapshot_payload = None
        self.final, self.failure = None, ""
        self.verdict = None  # the run's verdict in words once it has ended (verdict.judge)
        self.dists = []  # the 'dists' payloads (engine/xray.py), every k steps
        self.evaluates_periodically = trainer.config.get("eval_every") is not None
        self._reported = 0
        self.norm_first = BIG_NORM_EVERY if is_big(trainer) else 1  # (a power of two: the grid stays aligned)
        self.norm_every = self.norm_first
        self._pending_norms = []
        self._t0 = self._t_report = time.monotonic()
        self._paused = 0.0
        self._dataset = None

    # --- timing -------------------------------------------------------------------------------
    def begin(self):
        """Training starts now: the clock for throughput, ETA and the run's seconds."""
        self._t0 = self._t_report = time.monotonic()

    def exclude_pause(self, seconds):
        self._paused += seconds
        self._t_report += seconds

    def active_seconds(self):
        return time.monotonic() - self._t0 - self._paused

    # --- recording ----------------------------------------------------------------------------
    def add(self, record):
        """A step's record (taken right after the step: the gradients are that step's)."""
        self.steps.append(**{c: record[c] for c in STEP_COLUMNS if record.get(c) is not None})
        step = record["step"]
        self.norm_every = max(self.norm_first, norm_interval(step))  # a longer run: every other sample from now on
        if self._keeps(step) or step == self.trainer.total_steps:
            self._pending_norms.append(self.trainer.norms())

    def dataset_event(self):
        if self._dataset is None:
            t = self.trainer
            self._dataset = {"task": t.config["task"], "label": self.label, "config": public_config(t.config),
                             "steps_per_epoch": t.steps_per_epoch, "total_steps": t.total_steps,
                             "batch_size": t.config["batch_size"], "layers": [n for n, _ in t.layers],
                             "warning": formula_warning(t.config), "baseline": t.task.baseline(),
                             **t.task.dataset_event()}
        return self._dataset

    def pending_steps(self):
        """Payload of a 'steps' event with the rows since the last one (None if there are none)."""
        start, stop = self._reported, len(self.steps)
        if stop == start:
            return None
        now = time.monotonic()
        rate = (stop - start) / max(now - self._t_report, 1e-9)
        self._reported, self._t_report = stop, now
        rows = self.steps.slice(start, stop)
        payload = {c: rows[c] for c in ("step", "epoch", "loss")}
        payload["step"] = rows["step"].astype(int)
        if not self.evaluates_periodically:
            payload["val_loss"] = rows["val_loss"]
            if self.trainer.task.classifier:
                payload["val_acc"] = rows["val_acc"]
        remaining = self.trainer.total_steps - self.trainer.step
        if self.trainer.scheduler is not None:  # each step's own rate (a replay's CSV gives every step its rate)
            payload["lr_steps"] = rows["lr"]
        payload.update(lr=float(rows["lr"][-1]), samples_per_sec=rate * self.trainer.config["batch_size"],
                       eta=remaining / rate if rate > 0 else None, progress=self.trainer.step / self.trainer.total_steps)
        return payload

    def _keeps(self, step):
        return step == 1 or step % self.norm_every == 0

    def pending_norms(self):
        """The gradient norms sampled since the last call (payloads of 'norms' events), now part of the history."""
        out, self._pending_norms = self._pending_norms, []
        last = self.trainer.total_steps  # the history keeps the samples of the current spacing (and the last)
        self.norm_history = [n for n in self.norm_history + out if self._keeps(n["step"]) or n["step"] == last]
        return out

    def eval_event(self, ev):
        payload = {k: v for k, v in ev.items() if k not in ("outputs", "indices")}
        self.evals.append(payload)
        return payload

    def snapshot(self, ev=None):
        """The model's current picture (for MNIST, with the confusion matrix of evaluation `ev`)."""
        task = self.trainer.task
        if self.evaluates_periodically:
            snap = task.snapshot(self.trainer.model, *((ev["outputs"], ev["indices"]) if ev else ()))
            if ev is None and self.snapshot_payload is not None and "confusion" in self.snapshot_payload:
                snap["confusion"] = self.snapshot_payload["confusion"]
        else:
            snap = task.snapshot(self.trainer.model)
        snap["step"] = self.trainer.step
        self.snapshot_payload = snap
        return snap

    # --- views --------------------------------------------------------------------------------
    def summary(self, limit=None, reported_only=False):
        """Everything recorded, with step series thinned to `limit` rows (None: all); with reported_only, the
        steps already sent in 'steps' events (a new subscriber's history, so the next event continues it)."""
        rows = self.steps.slice(0, self._reported if reported_only else None, limit=limit)
        return {"label": self.label, "dataset": self.dataset_event(), "steps": rows, "evals": self.evals,
                "norms": [self.norm_history[i] for i in decimate(len(self.norm_history), limit or len(self.norm_history))],
                "snapshot": self.snapshot_payload, "lr_changes": self.lr_changes, "final": self.final,
                "failure": self.failure, "verdict": self.verdict, "dists": self.dists, "step": self.trainer.step, "total_steps": self.trainer.total_steps}

    def csv(self):
        """One row per step: step, epoch, loss, val_loss, val_acc, lr (validation of MNIST at evaluation steps)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(STEP_COLUMNS)
        evals = {e["step"]: e for e in self.evals}
        rows = self.steps.slice(0)
        for i in range(len(self.steps)):
            row = [rows[c][i] for c in STEP_COLUMNS]
            ev = evals.get(int(row[0]))
            if ev is not None:
                row[3], row[4] = ev["val_loss"], ev["val_acc"]
            writer.writerow(["" if v is None or v != v else (int(v) if c == "step" else repr(float(v)))
                             for c, v in zip(STEP_COLUMNS, row)])
        return out.getvalue()
