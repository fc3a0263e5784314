"""Events a job reports, their payloads, and the history kept for late subscribers.

Every event is a plain JSON-ready dict with ``type``, ``job_id``, ``seq`` (1, 2, 3... per job, so a
consumer can detect loss or reordering), ``run`` (index of the run inside a comparison; 0 for a single
job) and ``time`` (when the engine made it, Unix seconds: latency can be measured end to end). Floats that are NaN or infinite are sent as null. Types and payloads:

``state``     ``state`` (created|running|paused|finished|stopped|failed), ``message``; when paused, ``steps``:
              the step each run stopped at (no step runs after it until the job resumes or is stepped); a job
              started paused (step mode) begins with 'paused' and ``steps`` [0, ...]; step() sends 'running'
              then 'paused' with the exact steps
``dataset``   static plot data, once per run: ``task``, ``label``, ``steps_per_epoch``, ``total_steps``, ``layers``,
              ``warning`` (a sentence when the formula is a poor target on its domain, e.g. a pole; else null),
              ``baseline``: what guessing scores on the validation set (``loss`` of a constant prediction; for
              classifiers ``accuracy``, chance: always naming the validation set's largest class; for fits
              ``floor``, the noise's variance: the loss of a perfect fit)
              and per task: function ``x_train, y_train, x_val, y_val, x_grid, y_grid``; surface ``xs, ys,
              z_true`` (rows = y) and ``train_points`` (as [[x, y, z]...]); classification ``points, labels, xs,
              ys`` and ``slice`` (the values the grid holds the features after the first two at: their training
              means; [] in the plane); mnist ``classes, train_size, val_size``. With one's own data
              (engine/user_data.py) ``config.data`` is its summary (name, rows, columns, digest, ranges; classes and
              counts), ``y_grid`` and ``z_true`` are null (there is no target) and the baseline's ``floor`` too
``steps``     every step since the previous report: lists ``step, epoch, loss`` and, for function, surface and
              classification, ``val_loss`` (and ``val_acc`` for classification); under a schedule ``lr_steps``,
              each step's learning rate; scalars ``lr`` (the last step's),
              ``samples_per_sec``, ``eta`` (seconds), ``progress`` (0-1)
``eval``      MNIST validation: ``step, epoch, val_loss, val_acc, train_loss, train_acc, split`` (subset|full)
``snapshot``  the model's current picture: function ``y_pred`` on ``x_grid``; surface ``z_pred`` (with one's own
              data also ``z_points``, its output at the ``train_points``);
              classification ``p_grid`` (probability of class 1 on the ``xs, ys`` grid); mnist ``digits`` (24 fresh
              validation images as 28x28 lists of 0-255), their ``digit_labels``, ``pred`` and ``prob``, and
              ``confusion`` (10x10, rows = true class) of the last evaluation
``norms``     ``step``, ``names`` (one per weight layer), ``grad`` and ``weight`` (L2 norms) after that step: sampled
              by steps, not by time: the first, every k-th and the last, k = 1 for the first 500 steps, then 2, 4,
              8... (the history keeps the multiples of the current k: at most ~500 evenly spaced samples)
``xray_ready`` ``step``: a new X-ray of the run can be fetched (Job.xray, GET /jobs/<id>/xray.json, the socket's
              ``xray``; its JSON: docs/xray.md): after the last step of each step() request, and while running at
              most every 0.5 s for 5 s after someone asked for an X-ray (nobody asking: no X-ray is recorded)
``dists``     distributions over time, sampled every k steps (k = total_steps // 250, at least 1): ``step`` and
              ``layers``, per weight layer ``name``, ``weight`` and ``grad`` (percentiles 5, 25, 50, 75, 95 of
              its weight and weight gradient), ``activation`` (those of the following activation module's output
              on the batch, or null), ``dead`` (share of ReLU units never active on the batch, else null),
              ``saturated`` (share of sigmoid/tanh outputs within 0.02 of their bounds, else null); the
              history keeps them all (per run, ``dists``)
``lr``        ``step``, ``lr``: the learning rate was changed while running
``pace``      ``pace`` (steps per second at most, 0: no limit), ``step``: the speed was changed (run 0)
``done``      final metrics of a run: ``train_loss, val_loss, val_acc, test_loss, test_acc, steps, seconds``;
              of a run that diverged: ``failed`` (the message) and ``steps``; both with ``verdict``, the run's
              history judged in words (bpnet/engine/verdict.py): ``kind`` (overfitting, diverged,
              still_improving, good_fit...), ``title``, ``text`` ("validation loss rose while training loss fell
              from step 1,200: overfitting. ..."), ``step`` (where it began, or null); a run stopped by the user
              has ``stopped`` and ``steps`` only
``history``   sent to a subscriber when it joins: everything so far (Job.history_event, Recorder.summary), its
              steps up to the last 'steps' event, so the next events continue it exactly; ``pace`` now; per run
              its ``final`` metrics, ``failure`` and ``verdict`` once it has ended
"""
import json
import math
import types

import numpy as np

__all__ = ["EVENT_TYPES", "JSON", "Series", "clean", "decimate", "dumps"]

EVENT_TYPES = ("state", "dataset", "steps", "eval", "snapshot", "norms", "xray_ready", "dists", "lr", "pace", "done",
               "history")


def clean(value):
    """A JSON-safe copy: numpy arrays and scalars to lists and Python numbers, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            obj = value.astype(object)
            obj[~np.isfinite(value)] = None
            return obj.tolist()
        return value.tolist()
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def dumps(value, **kwargs):
    """Strict JSON text of clean(value): how every payload leaving the server is encoded (socket packets, HTTP
    JSON, worker replies and events), so no NaN or Infinity token ever reaches a client (a browser's JSON.parse
    refuses them, and the Socket.IO client then drops the connection)."""
    return json.dumps(clean(value), allow_nan=False, **kwargs)


JSON = types.SimpleNamespace(dumps=dumps, loads=json.loads)  # a json module for Socket.IO's json= options


def decimate(n, limit):
    """Indices of at most `limit` of n points, evenly spread, always keeping the last."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))


class Series:
    """Columns of per-step numbers that grow without copying on every append (capacity doubles)."""

    def __init__(self, columns, capacity=1024):
        self.columns = tuple(columns)
        self._data = {c: np.full(capacity, np.nan) for c in self.columns}
        self.n = 0

    def append(self, **values):
        if self.n == len(self._data[self.columns[0]]):
            for c in self.columns:
                grown = np.full(2 * self.n, np.nan)
                grown[:self.n] = self._data[c]
                self._data[c] = grown
        for c, v in values.items():
            self._data[c][self.n] = v
        self.n += 1

    def column(self, name, start=0, stop=None):
        return self._data[name][start:self.n if stop is None else min(stop, self.n)]

    def slice(self, start, stop=None, limit=None):
        """{column: list} for rows start..stop, thinned to at most `limit` rows."""
        stop = self.n if stop is None else min(stop, self.n)
        idx = np.arange(start, stop) if limit is None else start + decimate(max(0, stop - start), limit)
        return {c: self._data[c][idx] for c in self.columns}

    def __len__(self):
        return self.n
