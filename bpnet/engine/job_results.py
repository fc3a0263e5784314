"""What a job gives back: its X-rays, its model as .npz, its history, predictions (a mixin of Job)."""
from .events import clean
from .job_controls import TERMINAL, JobError
from .saved import describe, pack
from .tasks import digit_inputs, outputs

__all__ = ["JobResults"]


class JobResults:
    """Results of a Job, taken between two steps (under its model lock)."""

    def xray(self, run=0):
        """The X-ray of run `run`'s latest recorded step (docs/xray.md; JSON-ready); a running job records
        X-rays for a few seconds after each call ('xray_ready' events announce them)."""
        if not 0 <= run < self.run_count:
            raise JobError(f"this job has no run {run} (it has {self.run_count})")
        self._xrays.asked()
        shot = self._xrays.latest(run)
        if shot is None:
            if self.state in TERMINAL:
                raise JobError(f"this job {self.state} and no X-ray was recorded (a job records them when it is "
                               "stepped or someone looks at them while it runs)")
            if self.trainers[run].step == 0:
                raise JobError("no step has run yet" + (": press Step to run one minibatch and see it"
                                                        if self.state == "paused" else ""))
            raise JobError("the X-ray of the next step is being recorded: an 'xray_ready' event announces it")
        return clean(shot)

    def model_npz(self, run=0):
        """The run's model as .npz bytes: its state_dict (taken between two steps) and, in the zip comment, what
        bpnet.load needs to use it (engine/saved.py)."""
        trainer = self.trainers[run]
        with self._model_lock:
            state = trainer.model.state_dict()
        return pack(state, describe(trainer.config, trainer.task))

    def history(self):
        """The full, unthinned history of every run (JSON-ready)."""
        with self._lock:
            return clean({"job_id": self.id, "state": self.state, "message": self.message,
                          "runs": [r.summary(limit=None) for r in self.recorders]})

    def history_csv(self, run=0):
        with self._lock:
            return self.recorders[run].csv()

    def predict_digit(self, pixels, run=0):
        """Class probabilities (10,) of an MNIST run's current model for 784 grey levels in [0, 1]."""
        return self.predict(digit_inputs(pixels, self.trainers[run].config), run)[0]

    def predict(self, x, run=0):
        """Class probabilities (or outputs) of the current model for inputs x, taken between two steps."""
        with self._model_lock:
            return outputs(self.trainers[run].model, self.trainers[run].config, x)
