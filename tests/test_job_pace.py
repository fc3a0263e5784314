"""A job's speed (a live control, like the learning rate) and its gradient norms, sampled by steps."""
import time

import pytest

from bpnet.engine.config import ConfigError, field_spec
from bpnet.engine.job import Job, JobError
from bpnet.engine.recorder import BIG_NETWORK, BIG_NORM_EVERY, NORM_SAMPLES, norm_interval
from bpnet.engine.xray_schedule import BIG_DISTS_EVERY

TINY = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8], "batch_size": 16, "seed": 1}
MEDIUM = {"task": "function", "formula": "sin(3*x)", "n_samples": 200, "hidden": [16], "batch_size": 8, "epochs": 100}
BIG = {"task": "function", "formula": "sin(x)", "n_samples": 200, "hidden": [400, 250], "batch_size": 8, "epochs": 2}


class Events(list):
    def __call__(self, event):
        self.append(event)

    def of(self, type_):
        return [e for e in self if e["type"] == type_]


def wait_for(condition, timeout=20.0):
    end = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.005)
    return value


@pytest.fixture
def started():
    """started(config, **job_options) -> (job, events), the job running; stopped and joined afterwards."""
    made = []

    def make(config, **options):
        job, events = Job(config, **options), Events()
        job.subscribe(events)
        made.append(job)
        job.start()
        return job, events
    yield make
    for job in made:
        job.stop()
        assert job.wait(10)


# --- speed --------------------------------------------------------------------------------------
def test_the_engine_runs_flat_out_and_the_dashboard_starts_at_a_pace_the_eye_can_follow():
    spec = field_spec("pace", "function")
    assert spec["default"] == 0 and spec["min"] == 0  # the engine and the command line: as fast as they can
    assert 0 < spec["watch_default"] <= spec["max"]
    # a default 1-D run at the dashboard's pace takes seconds, not one second
    steps = 1000 * 5  # default epochs x batches per epoch (160 training points / 32)
    assert 5 <= steps / spec["watch_default"] <= 60


def test_set_pace_speeds_a_slow_run_up_at_once(started):
    job, events = started(dict(TINY, epochs=50, pace=1))  # 200 steps at one a second: minutes
    wait_for(lambda: events.of("steps"))
    assert job.set_pace(0) == 0
    assert job.wait(20) and job.state == "finished"  # the rest ran without a limit
    (pace,) = events.of("pace")
    assert pace["pace"] == 0 and pace["run"] == 0 and 1 <= pace["step"] < 200
    assert job.history_event()["pace"] == 0


def test_set_pace_slows_a_running_job_down(started):
    job, events = started(dict(MEDIUM, epochs=5000))
    wait_for(lambda: events.of("steps"))
    assert job.set_pace(2) == 2
    wait_for(lambda: events.of("pace"))
    time.sleep(0.1)  # the step in hand ends
    before = job.trainers[0].step
    time.sleep(1.0)  # nothing much may happen meanwhile: about two steps
    assert job.trainers[0].step - before <= 4
    assert job.history_event()["pace"] == 2


@pytest.mark.parametrize("pace", [-1, 1001, 2.5, "abc", "", None, True, [], float("nan")])
def test_set_pace_takes_only_what_the_schema_allows(started, pace):
    job, events = started(dict(TINY, epochs=5000, pace=50))
    with pytest.raises(ConfigError) as err:
        job.set_pace(pace)
    assert list(err.value.errors) == ["pace"]
    assert job._pace == 50 and not events.of("pace")


def test_set_pace_on_an_ended_job_is_refused():
    job = Job(dict(TINY, epochs=2))
    job.start()
    assert job.wait(20)
    with pytest.raises(JobError, match="speed"):
        job.set_pace(10)


# --- gradient norms by steps ------------------------------------------------------------------------
def test_norm_samples_are_every_step_of_a_short_run_and_thin_out_as_a_run_grows():
    assert norm_interval(1) == norm_interval(NORM_SAMPLES) == 1 and norm_interval(NORM_SAMPLES + 1) == 2
    assert norm_interval(4 * NORM_SAMPLES) == 4 and norm_interval(2_000_000) == 4096
    assert all(n // norm_interval(n) <= NORM_SAMPLES for n in (999, 1001, 1999, 7777, 123457, 2_000_000))


@pytest.mark.parametrize("report_interval", [0.001, 30.0])
def test_norms_are_sampled_by_steps_whatever_the_reporting_clock(started, report_interval):
    """The same steps however often the job reports (a fast server reports few times per run)."""
    job, events = started(MEDIUM, report_interval=report_interval)
    assert job.wait(60) and job.state == "finished"
    total = job.trainers[0].total_steps  # 2000 = 4 x 500: every step, then every 2nd, then every 4th
    assert total == 4 * NORM_SAMPLES
    steps = [e["step"] for e in events.of("norms")]
    assert steps == (list(range(1, 501)) + list(range(502, 1001, 2)) + list(range(1004, 2001, 4)))
    # the history (a late watcher's, the download's) keeps the even spacing of the end: every 4th step
    assert [n["step"] for n in job.history()["runs"][0]["norms"]] == [1] + list(range(4, 2001, 4))


def test_a_big_network_samples_its_norms_and_distributions_less_often(started):
    """Each sample reads every weight and gradient: a big network's cost a share of its step (the 5 % budget)."""
    job, events = started(BIG)
    assert job.wait(60) and job.state == "finished", job.message
    assert sum(p.data.size for p in job.trainers[0].net.parameters()) > BIG_NETWORK
    steps = [e["step"] for e in events.of("norms")]
    assert steps == [1] + list(range(BIG_NORM_EVERY, 41, BIG_NORM_EVERY)) and steps[-1] == job.trainers[0].total_steps
    assert [e["step"] for e in events.of("dists")] == [BIG_DISTS_EVERY, 2 * BIG_DISTS_EVERY]
    assert [n["step"] for n in job.history()["runs"][0]["norms"]] == steps  # the history keeps the same grid

