"""When a job records X-rays and distributions (engine/xray.py), so that nobody looking costs nothing.

    schedule = XRaySchedule(trainers)
    why = schedule.before(i, left)              # before run i's step (model lock held): arms its XRay if due
    events = schedule.after(i, record, why)     # after it: [(type, payload)] for the job to emit
    schedule.asked()                             # someone asked for an X-ray: record while running, for a while

An X-ray is recorded for the last step of each step() request and, while running, at most every
XRAY_INTERVAL s during XRAY_INTEREST s after someone asked; 'dists' every k steps (only the activations hooked).
"""
import time

from .events import clean
from .recorder import is_big
from .xray import XRay, dists

__all__ = ["XRaySchedule", "XRAY_INTEREST", "XRAY_INTERVAL", "DISTS_SAMPLES", "BIG_DISTS_EVERY", "dists_interval"]

XRAY_INTEREST = 5.0  # s: a running job records X-rays for this long after someone asked for one
XRAY_INTERVAL = 0.5  # s: at most two X-rays (and 'xray_ready' events) a second while running
DISTS_SAMPLES = 250  # 'dists' events over a run: every max(1, total_steps // DISTS_SAMPLES) steps...
BIG_DISTS_EVERY = 20  # ...and at most every 20th step for a big network (recorder.BIG_NETWORK): a sample costs
#                       ~20 % of an MNIST MLP step (percentiles of every layer, its activations hooked)


def dists_interval(trainer):
    """Every how many steps the trainer's run samples its distributions."""
    return max(1, trainer.total_steps // DISTS_SAMPLES, BIG_DISTS_EVERY if is_big(trainer) else 1)


class XRaySchedule:
    """One XRay per run and the clock that says which steps they record."""

    def __init__(self, trainers):
        self.trainers = trainers
        self.xrays = [XRay(t) for t in trainers]
        self._dists_every = [dists_interval(t) for t in trainers]
        self._wanted = 0.0  # monotonic time until which a running job records X-rays
        self._last = [-XRAY_INTERVAL] * len(trainers)  # when each run last announced one

    def asked(self):
        self._wanted = time.monotonic() + XRAY_INTEREST

    def before(self, i, left):
        """Before run i's next step, `left` steps of a step() request to go (None: not stepping): why it is
        recorded ({'announce', 'dists'}, empty: it is not), its XRay armed accordingly."""
        t, now, why = self.trainers[i], time.monotonic(), set()
        if left == 1 or (left is None and now < self._wanted and now - self._last[i] >= XRAY_INTERVAL):
            why.add("announce")
        if (t.step + 1) % self._dists_every[i] == 0:
            why.add("dists")
        if why:
            self.xrays[i].arm(full="announce" in why)
        return why

    def abandon(self, i):
        """The step did not complete (stopped, diverged, the end of the data)."""
        self.xrays[i].disarm()

    def after(self, i, record, why):
        """Run i's step `record` has run: [(event type, payload)] to emit ('dists', 'xray_ready')."""
        shot = self.xrays[i].finish(record)
        if shot is None:
            return []
        events = []
        if "dists" in why:
            outputs = {j: out for j, out in enumerate(shot["outputs"]) if out is not None}
            events.append(("dists", clean(dists(self.trainers[i], outputs))))
        if "announce" in why:
            self._last[i] = time.monotonic()
            events.append(("xray_ready", {"step": shot["step"]}))
        return events

    def latest(self, run):
        """The JSON of run `run`'s latest X-ray, or None."""
        return self.xrays[run].json()
