"""Step mode (Job(paused=True), Job.step): a job made and waiting at step 0, stepped by exact counts or to the end
of an epoch, refused clearly in any other state; the same config started twice steps through the same losses."""
import pytest

from bpnet.engine.job import MAX_STEP_COUNT, Job, JobError, step_count

from support import wait_until
from test_job import Events as JobEvents

FIT = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [6, 5], "batch_size": 12,
       "epochs": 5, "seed": 3}  # 4 steps per epoch, 20 in all


class Events(JobEvents):
    """A subscriber that keeps every event it is given, read for step mode."""

    def pauses(self):
        return [e["steps"] for e in self.of("state") if e["state"] == "paused"]

    def losses(self):
        return [loss for e in self.of("steps") for loss in e["loss"]]


def paused_job(config, events=None):
    job = Job(config, paused=True)
    job.subscribe(events if events is not None else Events())
    return job.start()


def step_and_wait(job, events, steps):
    """job.step(steps), then wait for the 'paused' state event that ends it; returns that event's steps."""
    before = len(events.pauses())
    job.step(steps)
    return wait_until(lambda: events.pauses()[before:], message="the pause after a step")[0]


def stepped(config, steps):
    """A paused job stepped `steps` minibatches (one step() call), paused again: (job, events)."""
    events = Events()
    job = paused_job(config, events)
    step_and_wait(job, events, steps)
    return job, events


def test_a_paused_start_makes_the_job_and_waits_at_step_0():
    events = Events()
    job = paused_job(FIT, events)
    wait_until(lambda: events.of("dataset"), message="the dataset event")
    assert job.state == "paused" and events.pauses() == [[0]]
    assert job.trainers[0].step == 0 and not events.of("steps")
    job.stop()
    job.wait()
    assert job.state == "stopped"


def test_step_counts_are_exact_and_the_job_pauses_again():
    events = Events()
    job = paused_job(FIT, events)
    assert step_and_wait(job, events, 1) == [1]
    assert step_and_wait(job, events, 5) == [6]
    assert job.state == "paused" and job.trainers[0].step == 6
    assert [s for e in events.of("steps") for s in e["step"]] == list(range(1, 7))
    assert [e["state"] for e in events.of("state")] == ["paused", "running", "paused", "running", "paused"]
    job.stop()
    job.wait()


def test_step_epoch_runs_to_the_end_of_the_current_epoch():
    events = Events()
    job = paused_job(FIT, events)
    assert step_and_wait(job, events, "epoch") == [4]
    assert step_and_wait(job, events, 1) == [5]
    assert step_and_wait(job, events, "epoch") == [8]
    job.stop()
    job.wait()


def test_stepping_past_the_last_step_finishes_the_job():
    events = Events()
    job = paused_job(FIT, events)
    job.step(MAX_STEP_COUNT)
    assert job.wait(20) and job.state == "finished"
    assert events.of("done")[0]["steps"] == 20


def test_resume_from_a_paused_start_trains_normally():
    events = Events()
    job = paused_job(FIT, events)
    job.resume()
    assert job.wait(20) and job.state == "finished"


def test_step_is_refused_clearly_in_any_other_state():
    job = Job(dict(FIT, epochs=5000, n_samples=400))
    with pytest.raises(JobError, match="created"):
        job.step(1)
    job.start()
    with pytest.raises(JobError, match="running .pause it first"):
        job.step(1)
    job.stop()
    job.wait()
    with pytest.raises(JobError, match="stopped"):
        job.step(1)


@pytest.mark.parametrize("bad", [0, -1, MAX_STEP_COUNT + 1, 2.5, True, None, "ten", "", [1], {"n": 1}, "1e3",
                                 "١"])
def test_hostile_step_counts_are_refused_with_the_limits(bad):
    with pytest.raises(ValueError, match=f"from 1 to {MAX_STEP_COUNT}, or 'epoch'"):
        step_count(bad)


def test_step_counts_as_typed():
    assert step_count("7") == 7 and step_count(" Epoch ") == "epoch" and step_count(MAX_STEP_COUNT) == MAX_STEP_COUNT


def test_the_same_config_steps_through_the_same_losses_bit_for_bit():
    runs = []
    for _ in range(2):
        job, events = stepped(FIT, 7)
        runs.append(events.losses())
        job.stop()
        job.wait()
    assert len(runs[0]) == 7 and runs[0] == runs[1]


def test_a_comparison_steps_every_run():
    events = Events()
    job = Job(runs=[("a", FIT), ("b", dict(FIT, lr=0.1))], paused=True)
    job.subscribe(events)
    job.start()
    assert step_and_wait(job, events, 3) == [3, 3]
    job.stop()
    job.wait()
