"""A job's controls: start, pause, step, resume, stop, learning rate and pace (a mixin of Job).

Controls only set flags that the training loop (job.py) reads between steps; a thread is never killed.
"""
import threading
import time

from .config import validate_field
from .priority import give_way

__all__ = ["JobControls", "JobError", "STATES", "TERMINAL", "STOPPED_BY_USER", "MAX_STEP_COUNT", "step_count"]

STATES = ("created", "running", "paused", "finished", "stopped", "failed")
TERMINAL = ("finished", "stopped", "failed")
STOPPED_BY_USER = "stopped by the user"
MAX_STEP_COUNT = 1000  # minibatches one step() may ask for


class JobError(ValueError):
    """A control that does not apply in the job's current state (e.g. pausing a finished job)."""


def step_count(steps):
    """A step() request read: a whole number of minibatches from 1 to MAX_STEP_COUNT, or "epoch"."""
    if isinstance(steps, str) and steps.strip().lower() == "epoch":
        return "epoch"
    if isinstance(steps, str) and steps.strip().isascii() and steps.strip().isdigit():
        steps = int(steps.strip())
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEP_COUNT:
        shown = repr(steps)[:40]
        raise ValueError(f"steps must be a whole number of minibatches from 1 to {MAX_STEP_COUNT}, or 'epoch' "
                         f"(to the end of the epoch); got {shown}")
    return steps


class JobControls:
    """The controls of a Job (which sets state, trainers, the events and flags they act on)."""

    def start(self):
        """Start training in a thread (or, for a job made with paused=True, wait at step 0 in state 'paused')."""
        with self._lock:
            if self.state != "created":
                raise JobError(f"job already {self.state}")
            if self.start_paused:
                self._resume.clear()
                self._set_state("paused", steps=[0] * self.run_count)
            else:
                self._set_state("running")
            self._thread = threading.Thread(target=self._run_giving_way, name=f"bpnet-job-{self.id[:8]}", daemon=True)
            self._thread.start()
        return self

    def _run_giving_way(self):
        """The training loop at a lower CPU priority than the server and a browser beside it (priority.py)."""
        self.niceness = give_way()
        self._run()

    def pause(self):
        """Pause after the step under way: once this returns no step runs until resume(), and the 'paused'
        state event says at which step each run stopped (`steps`), the last step the job will report."""
        with self._model_lock:  # (a step holds this lock: waiting for it makes the paused step count final)
            with self._lock:
                if self.state != "running":
                    raise JobError(f"cannot pause a job that is {self.state}")
                self._stepping = None  # a pause while stepping ends the stepping too
                self._resume.clear()
                self._set_state("paused", steps=[t.step for t in self.trainers])

    def step(self, steps=1):
        """From 'paused': run `steps` minibatches (1 to MAX_STEP_COUNT) in every run, or "epoch" (each run up to
        the end of its current epoch), then pause again: state events 'running', then 'paused' with `steps`, the
        step each run stopped at (a run that reaches its last step finishes instead). Returns {"state", "until"}:
        the steps the runs will pause at."""
        steps = step_count(steps)
        with self._model_lock, self._lock:
            if self.state != "paused":
                hint = " (pause it first)" if self.state == "running" else ""
                raise JobError(f"cannot step a job that is {self.state}{hint}")
            stepping = [t.steps_per_epoch - t.step % t.steps_per_epoch if steps == "epoch" else steps
                        for t in self.trainers]
            until = [min(t.step + n, t.total_steps) for t, n in zip(self.trainers, stepping)]
            self._stepping = stepping
            self._set_state("running")
            self._resume.set()
        return {"state": "running", "until": until}

    def resume(self):
        with self._lock:
            if self.state != "paused":
                raise JobError(f"cannot resume a job that is {self.state}")
            self._set_state("running")
            self._resume.set()

    def stop(self, message=STOPPED_BY_USER, failed=False):
        """Ask the loop to stop after the current step; it then ends 'stopped' (or 'failed') with `message`, which
        says who stopped it (the user, the grace period, a server shutdown...). A no-op on a job that has ended."""
        with self._lock:
            if self.state in TERMINAL:
                return
            if self.state == "created":
                self._set_state("failed" if failed else "stopped",
                                message if message != STOPPED_BY_USER else "stopped before it started")
                return
            if not self._stop:
                self._stop, self._stop_end = True, ("failed" if failed else "stopped", message)
            for trainer in self.trainers:  # a step or an evaluation in progress ends at its next layer
                trainer.stop_requested = True
            self._resume.set()
            self._wake.set()

    def end_now(self, message):
        """End the job at once, in state 'stopped' with `message`, even if its thread is still in a step (a
        server that shuts down: its watchers learn how the job ended). The thread, asked to stop, ends quietly."""
        with self._lock:
            if self.state in TERMINAL:
                return
            self.stop(message)
            self._set_state("stopped", message)

    def set_lr(self, lr):
        """Change the learning rate of every run from the next step on (limits from the config schema)."""
        lr = validate_field("lr", lr, self.config["task"])
        with self._lock:
            if self.state in TERMINAL:
                raise JobError(f"cannot change the learning rate of a job that is {self.state}")
            self._pending_lr = lr
        return lr

    def set_pace(self, pace):
        """Change the speed limit (steps per second at most, 0: none) from the next step on (limits from the
        config schema); announced in a 'pace' event."""
        pace = validate_field("pace", pace, self.config["task"])
        with self._lock:
            if self.state in TERMINAL:
                raise JobError(f"cannot change the speed of a job that is {self.state}")
            self._pace = pace
            self._emit("pace", pace=pace, step=self.trainers[0].step)
        self._wake.set()  # a long sleep of the old pace ends now
        return pace

    def wait(self, timeout=None):
        """Block until the job has ended (True) or the timeout passed (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.state in TERMINAL

    @property
    def done(self):
        return self.state in TERMINAL

    def _set_state(self, state, message="", **payload):
        self.state, self.message = state, message
        if state in TERMINAL:
            self.finished_at = time.time()
        self._emit("state", state=state, message=message, **payload)
