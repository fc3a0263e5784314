"""EventLog: a job's history rebuilt from its events reads exactly like the job's own (what the web keeps of a job
that trains elsewhere, so a lost job's history stays downloadable)."""
import csv
import io
import json
import math
import threading

import pytest

from bpnet.engine.experiments import compare_job
from bpnet.engine.job import Job
from bpnet.engine.replay import EventLog

FIT = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8], "batch_size": 16, "epochs": 150}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [16], "epochs": 2, "val_subset": 100, "eval_every": 5,
         "batch_size": 128}  # (with its cosine schedule: every step has its own rate)


def replayed(job, during=None):
    """Run the job to its end with an EventLog subscribed; `during(job)` runs once it has made some steps."""
    log = EventLog(job.id, job.kind)
    stepped = threading.Event()
    job.subscribe(lambda e: (log.add(e), e["type"] == "steps" and stepped.set()))
    job.start()
    if during:
        assert stepped.wait(30)
        during(job)
    assert job.wait(60)
    return log


def same(a, b):
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


@pytest.mark.parametrize("make", [lambda: Job(dict(FIT, epochs=400)), lambda: Job(MNIST),  # 1200 steps: norms thinned
                                  lambda: compare_job("activation", dict(FIT, epochs=20))])
def test_a_replayed_history_is_the_jobs_own(make):
    job = make()
    log = replayed(job)
    assert same(log.history(), job.history())
    assert same(log.history_event(), job.history_event())
    assert [log.history_csv(i) for i in range(job.run_count)] == [job.history_csv(i) for i in range(job.run_count)]


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_changes_are_placed_at_their_step(schedule):
    job = Job(dict(FIT, epochs=400, lr_schedule=schedule))

    def changes(job):
        for lr in (0.003, 0.002, 0.001):
            job.set_lr(lr)
        job.set_pace(900)
    log = replayed(job, changes)
    assert len(job.history()["runs"][0]["lr_changes"]) >= 1
    assert log.history_csv() == job.history_csv()
    assert same(log.history_event(), job.history_event()) and log.history_event()["pace"] == 900


def test_a_stopped_or_diverged_job_replays_too():
    stopped = Job(dict(FIT, epochs=5000))
    log = replayed(stopped, lambda job: job.stop())
    assert log.state == "stopped" and same(log.history(), stopped.history())
    diverged = Job({"task": "function", "formula": "100*x^3", "x_min": -10, "x_max": 10, "optimizer": "sgd",
                    "lr": 10, "n_samples": 50, "hidden": [8], "epochs": 20})
    with pytest.warns(RuntimeWarning):
        log = replayed(diverged)
    assert log.state == "failed" and same(log.history(), diverged.history())
    assert log.history_csv() == finite_only(diverged.history_csv())  # events carry inf and NaN as null


def finite_only(csv_text):
    """The CSV with its non-finite numbers (inf, nan) as empty fields."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in csv.reader(io.StringIO(csv_text)):
        writer.writerow(["" if _nonfinite(v) else v for v in row])
    return out.getvalue()


def _nonfinite(text):
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return False


def test_events_relayed_twice_are_logged_once():
    job = Job(dict(FIT, epochs=3))
    events = []
    job.subscribe(events.append)
    job.start()
    assert job.wait(30)
    log = EventLog(job.id)
    for e in events + events[1:]:
        log.add(e)
    assert same(log.history(), job.history())
