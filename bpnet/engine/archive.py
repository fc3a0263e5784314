"""What remains of a job once it has ended: its history and trained models, without the training machinery.

A finished Job holds optimiser state, data and caches; its JobArchive holds only what the dashboard still
serves (history, CSV, model .npz, predictions) and round-trips through bytes (a zip of JSON, CSV and .npz:
no pickle) so it can travel from a worker process or machine to the web process. Its large parts (the full
history, the CSVs, the models) are kept in anonymous temporary files once over SPILL_BYTES, so the ended jobs a
server keeps for downloads do not hold its memory; predictions reuse the last MODEL_CACHE models built.
"""
import collections
import io
import json
import tempfile
import threading
import zipfile

import numpy as np

from .job import JobError
from .models import build_model
from .tasks import TASK_CLASSES, digit_inputs, outputs
from .user_data import public_config

__all__ = ["JobArchive", "Blob", "SPILL_BYTES"]

SPILL_BYTES = 256 * 1024
MODEL_CACHE = 2  # models rebuilt from archives for predictions, kept process-wide
_models, _models_lock = collections.OrderedDict(), threading.Lock()


def _latest_xray(job, run):
    """The run's last X-ray as JSON text, or None."""
    try:
        return json.dumps(job.xray(run), allow_nan=False)
    except JobError:
        return None


class Blob:
    """Bytes in memory while small, in an anonymous temporary file (deleted with the Blob) beyond SPILL_BYTES."""

    def __init__(self, data):
        data = data.encode() if isinstance(data, str) else data
        self._file = tempfile.SpooledTemporaryFile(max_size=SPILL_BYTES)
        self._file.write(data)
        self._lock = threading.Lock()

    def read(self):
        with self._lock:
            self._file.seek(0)
            return self._file.read()

    def text(self):
        return self.read().decode()


class JobArchive:
    """Read-only view of an ended job with the same reading methods as Job."""

    done = True

    def __init__(self, meta, history, csvs, models, xrays=None):
        """meta: id, kind, state, message, configs and the (thinned) history event; history: the full history as
        JSON text; csvs and models: one per run, as text and .npz bytes; xrays: per run the last X-ray's JSON
        text, or None (kept like the history: in a temporary file once large)."""
        self.meta = meta
        self.id, self.kind = meta["job_id"], meta["kind"]
        self.state, self.message = meta["state"], meta["message"]
        self.configs = meta["configs"]
        self._history, self._csvs, self._models = Blob(history), [Blob(c) for c in csvs], [Blob(m) for m in models]
        self._xrays = [None if x is None else Blob(x) for x in (xrays or [None] * len(self.configs))]

    @classmethod
    def from_job(cls, job):
        """Archive an ended Job (its full history, CSVs and models)."""
        meta = {"job_id": job.id, "kind": job.kind, "state": job.state, "message": job.message,
                "configs": [public_config(t.config) for t in job.trainers],  # one's own data: its summary (the
                "history_event": job.history_event()}                      # points are in the history)
        return cls(meta, json.dumps(job.history(), allow_nan=False), [job.history_csv(i) for i in range(job.run_count)],
                   [job.model_npz(i) for i in range(job.run_count)], [_latest_xray(job, i) for i in range(job.run_count)])

    @classmethod
    def from_model(cls, npz, job_id, name="model.npz"):
        """An ended job of kind 'loaded' for a saved model's .npz (ModelFileError if unusable): no steps, its
        picture and its final metrics on its config's data (what the model does there), its model to predict
        with and to train on (Job(initial=...))."""
        from .events import clean
        from .recorder import Recorder
        from .saved import read
        from .trainer import Trainer
        saved = read(npz)
        trainer = Trainer(saved.config, initial=saved)
        rec = Recorder("", trainer)
        if rec.evaluates_periodically:  # MNIST: the confusion matrix of the whole validation split
            task = trainer.task
            rec.snapshot({"outputs": task.evaluate(trainer.model, task.x_val, task.y_val)[2],
                          "indices": np.arange(len(task.x_val))})
        else:
            rec.snapshot()
        rec.final = trainer.final_metrics(0.0)
        message = f"loaded from {name}: no training here; its outputs on this setup's data"
        meta = {"job_id": job_id, "kind": "loaded", "state": "finished", "message": message,
                "configs": [saved.config],
                "history_event": clean({"type": "history", "job_id": job_id, "seq": 0, "run": 0, "kind": "loaded",
                                        "state": "finished", "message": message, "pace": 0,
                                        "runs": [rec.summary(limit=5000)]})}
        history = {"job_id": job_id, "state": "finished", "message": message, "runs": [rec.summary()]}
        return cls(meta, json.dumps(clean(history), allow_nan=False), [rec.csv()], [saved.npz()])

    # --- the same reading API as Job ------------------------------------------------------------
    @property
    def config(self):
        return self.configs[0]

    @property
    def run_count(self):
        return len(self.configs)

    def history_event(self):
        return self.meta["history_event"]

    def send_history(self, send):
        send(self.history_event())

    def pause(self):
        raise JobError(f"cannot pause a job that is {self.state}")

    def resume(self):
        raise JobError(f"cannot resume a job that is {self.state}")

    def stop(self, message=None, failed=False):
        """Nothing to do: the job has ended."""

    def end_now(self, message):
        """Nothing to do: the job has ended."""

    def step(self, steps=1):
        raise JobError(f"cannot step a job that is {self.state}")

    def xray(self, run=0):
        """The X-ray of the run's last recorded step, as the job left it (docs/xray.md)."""
        if not 0 <= run < self.run_count:
            raise JobError(f"this job has no run {run} (it has {self.run_count})")
        if self._xrays[run] is None:
            raise JobError(f"this job {self.state} and no X-ray was recorded (a job records them when it is stepped "
                           "or someone looks at them while it runs)")
        return json.loads(self._xrays[run].read())

    def set_lr(self, lr):
        raise JobError(f"cannot change the learning rate of a job that is {self.state}")

    def set_pace(self, pace):
        raise JobError(f"cannot change the speed of a job that is {self.state}")

    def wait(self, timeout=None):
        return True

    def history(self):
        return json.loads(self._history.read())

    def history_csv(self, run=0):
        return self._csvs[run].text()

    def model_npz(self, run=0):
        return self._models[run].read()

    def predict(self, x, run=0):
        return outputs(self._model(run), self.configs[run], x)

    def predict_digit(self, pixels, run=0):
        return self.predict(digit_inputs(pixels, self.configs[run]), run)[0]

    def _model(self, run):
        key = (self.id, run)
        with _models_lock:
            model = _models.pop(key, None)
        if model is None:
            config = self.configs[run]
            task = TASK_CLASSES[config["task"]]
            model = build_model(config, task.in_shape, task.out_features, np.random.default_rng(0))
            with np.load(io.BytesIO(self.model_npz(run))) as state:
                model.load_state_dict(state)
            model.eval()
        with _models_lock:
            _models[key] = model
            while len(_models) > MODEL_CACHE:
                _models.popitem(last=False)
        return model

    # --- bytes ------------------------------------------------------------------------------------
    def to_bytes(self):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("meta.json", json.dumps(self.meta, allow_nan=False))
            z.writestr("history.json", self._history.read())
            for i, (csv_text, npz, xray) in enumerate(zip(self._csvs, self._models, self._xrays)):
                z.writestr(f"run{i}.csv", csv_text.read())
                z.writestr(f"run{i}.npz", npz.read())
                if xray is not None:
                    z.writestr(f"run{i}.xray.json", xray.read())
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob):
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            meta = json.loads(z.read("meta.json"))
            n, names = len(meta["configs"]), set(z.namelist())
            return cls(meta, z.read("history.json"), [z.read(f"run{i}.csv") for i in range(n)],
                       [z.read(f"run{i}.npz") for i in range(n)],
                       [z.read(f"run{i}.xray.json") if f"run{i}.xray.json" in names else None for i in range(n)])
