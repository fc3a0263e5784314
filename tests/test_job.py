"""A Job: one config trained in its own thread, controlled from outside, reporting rate-limited events to
subscribers and keeping the full history for late ones."""
import io
import json
import math
import threading
import time

import numpy as np
import pytest

from bpnet.engine.config import ConfigError, validate_config
from bpnet.engine.job import STATES, TERMINAL, Job, JobError
from bpnet.engine.models import build_model
from bpnet.engine.tasks import predict
from bpnet.engine.trainer import Trainer

TINY = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8, 8], "batch_size": 16, "epochs": 5,
        "seed": 1}
# ~2000 quick steps: long enough to be paused and stopped, short enough to finish in a second or two
MEDIUM = {"task": "function", "formula": "sin(3*x)", "n_samples": 200, "hidden": [16], "batch_size": 8,
          "epochs": 100}
ENDLESS = dict(MEDIUM, epochs=5000)  # 100000 steps: only ever stopped
CLASSIFICATION = {"task": "classification", "dataset": "xor", "n_samples": 100, "hidden": [8], "epochs": 3}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [32], "epochs": 1, "val_subset": 100, "eval_every": 3,
         "batch_size": 128}
DIVERGES = {"task": "function", "formula": "100*x^3", "x_min": -10, "x_max": 10, "optimizer": "sgd", "lr": 10,
            "n_samples": 50, "hidden": [8], "epochs": 20}


class Events(list):
    """A subscriber that keeps every event it is given."""

    def __call__(self, event):
        self.append(event)

    def of(self, type_):
        return [e for e in self if e["type"] == type_]

    def states(self):
        return [e["state"] for e in self.of("state")]

    def steps(self, run=0):
        return [s for e in self.of("steps") if e["run"] == run for s in e["step"]]


@pytest.fixture
def jobs():
    """Make jobs through this; any still running at the end are stopped and joined."""
    made = []

    def make(*args, **kwargs):
        job = Job(*args, **kwargs)
        made.append(job)
        return job

    yield make
    for job in made:
        job.stop()
        assert job.wait(10)


def wait_until(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)


def run(job, timeout=30):
    events = Events()
    job.subscribe(events)
    job.start()
    assert job.wait(timeout)
    return events


# ----------------------------------------------------------------------------- states and controls

def test_a_job_runs_to_finished(jobs):
    job = jobs(TINY)
    assert job.state == "created" and not job.done
    events = run(job)
    assert job.state == "finished" and job.message == "" and job.done
    assert events.states() == ["running", "finished"]
    assert not job._thread.is_alive()
    assert job.started_at <= job.finished_at
    assert set(STATES) >= {"created", "running", "paused", "finished", "stopped", "failed"}


def test_pause_resume_and_stop(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("steps"))
    job.pause()
    assert job.state == "paused"
    job.resume()
    assert job.state == "running"
    job.stop()
    assert job.wait(10)
    assert job.state == "stopped" and "stopped" in job.message
    assert events.states() == ["running", "paused", "running", "stopped"]
    assert job.trainers[0].step < job.trainers[0].total_steps


def test_stop_while_paused(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("steps"))
    job.pause()
    job.stop()
    assert job.wait(10)
    assert job.state == "stopped"
    assert not job._thread.is_alive()


def test_stop_before_start(jobs):
    job = jobs(TINY)
    events = Events()
    job.subscribe(events)
    job.stop()
    assert job.state == "stopped" and job.message
    assert job.wait(0.1)
    with pytest.raises(JobError):
        job.start()
    assert events.states() == ["stopped"]
    assert job.trainers[0].step == 0


def test_pause_really_pauses(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("steps"))
    job.pause()  # returns once the step under way is done: the count is final
    at = job.trainers[0].step
    assert events.of("state")[-1]["steps"] == [at]
    time.sleep(0.3)  # (checking that nothing happens for a while)
    assert job.trainers[0].step == at
    job.resume()
    wait_until(lambda: job.trainers[0].step > at + 10)


def test_paused_time_is_not_counted_as_training_time(jobs):
    job = jobs(dict(MEDIUM, epochs=20))
    events = Events()
    job.subscribe(events)
    job.subscribe(lambda e: e["type"] == "steps" and not events.of("state")[1:] and job.pause())  # at the 1st report
    job.start()
    wait_until(lambda: job.state == "paused")
    time.sleep(0.5)  # half a second of pause
    job.resume()
    assert job.wait(30)
    done = events.of("done")[0]
    assert done["seconds"] < job.finished_at - job.started_at - 0.3


def test_controls_in_the_wrong_state_raise_job_error(jobs):
    job = jobs(TINY)
    with pytest.raises(JobError):
        job.pause()
    with pytest.raises(JobError):
        job.resume()
    run(job)
    for control in (job.start, job.pause, job.resume):
        with pytest.raises(JobError):
            control()
    with pytest.raises(JobError):
        job.set_lr(0.001)
    job.stop()  # stopping an ended job changes nothing
    assert job.state == "finished"

    running = jobs(ENDLESS)
    running.start()
    with pytest.raises(JobError):
        running.resume()
    with pytest.raises(JobError):
        running.start()
    running.pause()
    with pytest.raises(JobError):
        running.pause()


def test_job_error_is_a_value_error():
    assert issubclass(JobError, ValueError)


@pytest.mark.parametrize("lr", [0, -0.1, 11, float("nan"), "fast", None, True])
def test_invalid_learning_rate_is_a_value_error(jobs, lr):
    job = jobs(TINY)
    with pytest.raises(ValueError):
        job.set_lr(lr)


def test_set_lr_while_running_takes_effect(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("steps"))
    assert job.set_lr(0.002) == 0.002
    wait_until(lambda: events.of("lr"))
    changed_at = events.of("lr")[0]["step"]
    wait_until(lambda: any(e["step"][0] > changed_at for e in events.of("steps")))
    job.stop()
    assert job.wait(10)
    assert events.of("lr")[0]["lr"] == 0.002
    steps = job.history()["runs"][0]["steps"]
    lrs = dict(zip(steps["step"], steps["lr"]))
    assert lrs[changed_at] == 0.01 and lrs[changed_at + 1] == 0.002 and lrs[max(lrs)] == 0.002
    assert job.history()["runs"][0]["lr_changes"] == [[changed_at, 0.002]]


def test_set_lr_before_start_applies_from_the_first_step(jobs):
    job = jobs(TINY)
    job.set_lr(0.05)
    run(job)
    assert set(job.history()["runs"][0]["steps"]["lr"]) == {0.05}


def test_invalid_config_is_rejected_before_any_thread_exists():
    with pytest.raises(ConfigError):
        Job({"task": "function", "epochs": 0})
    with pytest.raises(ValueError):
        Job()


# ----------------------------------------------------------------------------- the event stream

def test_history_first_then_every_event_with_consecutive_seq(jobs):
    job = jobs(MEDIUM)
    events = run(job)
    assert events[0]["type"] == "history" and events[0]["seq"] == 0 and events[0]["state"] == "created"
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(len(events)))
    assert all(e["job_id"] == job.id and e["run"] == 0 for e in events)
    assert [e["type"] for e in events[1:3]] == ["state", "dataset"]
    assert events[-1]["type"] == "state" and events[-1]["state"] == "finished"
    assert events[-2]["type"] == "done"


def test_step_reports_are_rate_limited_and_cover_every_step_once(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    t0 = time.monotonic()
    job.start()
    wait_until(lambda: len(events.of("steps")) >= 5)  # reported as it goes, not only at the end
    job.stop()
    assert job.wait(30)
    seconds = time.monotonic() - t0
    reports = events.of("steps")
    assert len(reports) <= 20 * seconds + 2  # every 50 ms at most, plus the flush at the stop
    assert events.steps() == list(range(1, job.trainers[0].step + 1))
    for e in reports:  # each report carries every series for the steps since the last
        n = len(e["step"])
        assert len(e["epoch"]) == len(e["loss"]) == len(e["val_loss"]) == n
        assert e["samples_per_sec"] > 0 and 0 < e["progress"] < 1 and e["eta"] > 0


def test_the_last_report_of_a_finished_job_says_it_is_complete(jobs):
    events = run(jobs(TINY))
    last = events.of("steps")[-1]
    assert last["step"][-1] == 15 and last["progress"] == 1 and last["eta"] == 0


def test_a_failing_subscriber_is_dropped_and_training_goes_on(jobs, caplog):
    job = jobs(MEDIUM)
    calls = []

    def broken(event):
        calls.append(event["type"])
        if event["type"] == "steps":
            raise RuntimeError("listener bug")

    job.subscribe(broken)
    events = run(job)
    assert job.state == "finished"
    assert calls.count("steps") == 1 and calls[-1] == "steps"
    assert events.steps() == list(range(1, job.trainers[0].total_steps + 1))
    assert "listener" in caplog.text


def test_a_listener_may_ask_for_the_model_when_the_run_is_done():
    job = Job(TINY)  # not the `jobs` fixture: its teardown could not stop a deadlocked job
    saved = []
    job.subscribe(lambda e: e["type"] == "done" and saved.append(job.model_npz()))
    job.start()
    assert job.wait(10), "a listener calling model_npz() deadlocked the job"
    assert len(saved) == 1 and saved[0].startswith(b"PK")


def test_pausing_reports_every_step_done_so_far(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("steps"))
    job.pause()
    at = events.of("state")[-1]["steps"][0]
    assert at == job.trainers[0].step
    wait_until(lambda: events.steps()[-1:] == [at])  # the flush before the loop waits
    assert events.steps() == list(range(1, at + 1))


def test_stopping_reports_every_step_done(jobs):
    job = jobs(ENDLESS)
    events = Events()
    job.subscribe(events)
    job.start()
    wait_until(lambda: events.of("steps"))
    job.stop()
    assert job.wait(10)
    recorded = job.history()["runs"][0]["steps"]["step"]
    assert events.steps() == recorded == list(range(1, job.trainers[0].step + 1))


def test_the_job_trains_exactly_like_a_trainer(jobs):
    """Events and pictures taken between steps never disturb training: same losses, bit for bit."""
    config = dict(MEDIUM, epochs=10, dropout=0.2, batch_norm=True)
    job = jobs(config)
    run(job)
    expected = [r["loss"] for r in Trainer(config).steps()]
    assert job.history()["runs"][0]["steps"]["loss"] == expected


# ----------------------------------------------------------------------------- divergence

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_diverging_job_fails_with_advice_and_its_thread_ends(jobs):
    job = jobs(DIVERGES)
    events = run(job, timeout=10)
    assert job.state == "failed"
    assert "diverged" in job.message and "lower learning rate" in job.message
    assert not job._thread.is_alive()
    assert events.states() == ["running", "failed"]
    done = events.of("done")
    assert len(done) == 1 and "lower learning rate" in done[0]["failed"]
    assert events[-1]["message"] == job.message
    assert job.history()["runs"][0]["failure"] == job.message
    with pytest.raises(JobError):
        job.set_lr(0.001)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_every_event_is_strict_json_even_with_nan(jobs):
    job = jobs(DIVERGES)
    events = run(job, timeout=10)
    late = Events()
    job.subscribe(late)
    for e in events + late:
        json.dumps(e, allow_nan=False)
    json.dumps(job.history(), allow_nan=False)
    # the run blew up: the last validation loss was infinite and a weight norm overflowed, sent as null
    assert events.of("steps")[-1]["val_loss"][-1] is None
    assert None in events.of("norms")[-1]["weight"]


def test_every_event_of_a_normal_run_is_strict_json(jobs):
    events = run(jobs(dict(CLASSIFICATION, dropout=0.1)))
    for e in events:
        json.dumps(e, allow_nan=False)
    assert {"history", "state", "dataset", "steps", "norms", "snapshot", "done"} <= {e["type"] for e in events}


# ----------------------------------------------------------------------------- pictures, norms, results

def test_function_snapshot_is_the_curve_on_the_grid(jobs):
    events = run(jobs(TINY))
    dataset = events.of("dataset")[0]
    assert dataset["task"] == "function" and dataset["total_steps"] == 15 and dataset["layers"] == [
        "Linear 1", "Linear 2", "Linear 3"]
    assert len(dataset["x_train"]) == len(dataset["y_train"]) == 48 and len(dataset["x_val"]) == 12
    snaps = events.of("snapshot")
    assert snaps and snaps[-1]["step"] == 15
    for s in snaps:
        assert len(s["y_pred"]) == len(dataset["x_grid"]) == len(dataset["y_grid"])
    x = np.array(dataset["x_grid"])
    assert x[0] == pytest.approx(TINY.get("x_min", -math.pi)) and np.all(np.diff(x) > 0)


def test_surface_snapshot_matches_the_true_surface(jobs):
    # a plane on a non-square domain, fitted by a linear model: the picture must line up with z_true
    events = run(jobs({"task": "surface", "formula": "x+2*y", "x_min": -1, "x_max": 3, "n_samples": 200,
                       "hidden": [], "lr": 0.1, "epochs": 40}))
    dataset = events.of("dataset")[0]
    xs, ys, z_true = np.array(dataset["xs"]), np.array(dataset["ys"]), np.array(dataset["z_true"])
    assert z_true.shape == (len(ys), len(xs))  # rows are y
    np.testing.assert_allclose(z_true, xs[None, :] + 2 * ys[:, None], atol=1e-6)
    snaps = events.of("snapshot")
    for s in snaps:
        assert np.array(s["z_pred"]).shape == z_true.shape
    np.testing.assert_allclose(np.array(snaps[-1]["z_pred"]), z_true, atol=0.05)


def test_classification_snapshot_is_a_probability_grid(jobs):
    events = run(jobs(CLASSIFICATION))
    dataset = events.of("dataset")[0]
    p = np.array(events.of("snapshot")[-1]["p_grid"])
    assert p.shape == (len(dataset["ys"]), len(dataset["xs"]))
    assert np.all((p >= 0) & (p <= 1))
    assert len(dataset["points"]) == len(dataset["labels"]) == 100


def test_mnist_job_events(jobs):
    job = jobs(MNIST)
    events = run(job, timeout=60)
    assert job.state == "finished"
    evals = events.of("eval")
    # 1000 images: 7 full batches of 128 (the incomplete last batch is dropped)
    assert [(e["step"], e["split"]) for e in evals] == [(3, "subset"), (6, "subset"), (7, "full")]
    n_val = events.of("dataset")[0]["val_size"]
    # every evaluation is followed by a snapshot whose confusion matrix counts exactly the images evaluated
    for e in evals:
        snap = events[events.index(e) + 1]
        assert snap["type"] == "snapshot" and snap["step"] == e["step"]
        confusion = np.array(snap["confusion"])
        assert confusion.shape == (10, 10)
        assert confusion.sum() == (100 if e["split"] == "subset" else n_val)
        assert np.trace(confusion) == pytest.approx(e["val_acc"] * confusion.sum())
    for snap in events.of("snapshot"):
        assert np.array(snap["digits"]).shape == (24, 28, 28)
        assert len(snap["pred"]) == len(snap["prob"]) == len(snap["digit_labels"]) == 24
        assert all(0.1 <= p <= 1 for p in snap["prob"]) and all(0 <= d <= 9 for d in snap["pred"])
        assert np.array(snap["digits"]).max() <= 255
    assert all("val_loss" not in e for e in events.of("steps"))
    done = events.of("done")[0]
    assert {"test_acc", "test_loss", "val_acc", "train_acc"} <= done.keys()
    # the CSV carries the validation of the evaluation steps
    rows = job.history_csv().splitlines()[1:]
    with_val = [r.split(",")[0] for r in rows if r.split(",")[3]]
    assert with_val == ["3", "6", "7"]


def test_mnist_predict_gives_probabilities(jobs):
    job = jobs(MNIST)
    run(job, timeout=60)
    x = job.trainers[0].task.x_val[:7]
    p = job.predict(x)
    assert p.shape == (7, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(p >= 0)
    # the function task predicts plain outputs
    fit = jobs(TINY)
    assert fit.predict(fit.trainers[0].task.x_val).shape == (12, 1)


def test_norms_event_has_one_entry_per_layer(jobs):
    events = run(jobs(dict(TINY, hidden=[8, 6, 4])))
    norms = events.of("norms")
    assert norms
    for n in norms:
        assert n["names"] == ["Linear 1", "Linear 2", "Linear 3", "Linear 4"]
        assert len(n["grad"]) == len(n["weight"]) == 4
        assert all(g >= 0 for g in n["grad"]) and all(w > 0 for w in n["weight"])
    assert norms[-1]["step"] == 15


def test_done_event_has_the_final_metrics(jobs):
    job = jobs(CLASSIFICATION)
    events = run(job)
    done = events.of("done")
    assert len(done) == 1
    d = done[0]
    assert d["steps"] == job.trainers[0].total_steps and d["seconds"] > 0
    assert {"train_loss", "val_loss", "train_acc", "val_acc"} <= d.keys()
    assert not any(k.startswith("test") for k in d)
    assert job.history()["runs"][0]["final"]["val_acc"] == d["val_acc"]


def test_model_npz_loads_into_a_fresh_model_with_the_same_predictions(jobs):
    job = jobs(dict(CLASSIFICATION, batch_norm=True))
    run(job)
    trainer = job.trainers[0]
    state = dict(np.load(io.BytesIO(job.model_npz())))
    assert set(state) == set(trainer.model.state_dict())
    fresh = build_model(validate_config(CLASSIFICATION | {"batch_norm": True}), trainer.task.in_shape,
                        trainer.task.out_features, np.random.default_rng(123))
    fresh.load_state_dict(state)
    x = trainer.task.x_val
    np.testing.assert_array_equal(predict(fresh, x), predict(trainer.model, x))


def test_history_csv_has_a_header_and_one_row_per_step(jobs):
    job = jobs(TINY)
    run(job)
    lines = job.history_csv().splitlines()
    assert lines[0] == "step,epoch,loss,val_loss,val_acc,lr"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == job.trainers[0].total_steps
    assert [int(r[0]) for r in rows] == list(range(1, len(rows) + 1))
    steps = job.history()["runs"][0]["steps"]
    assert [float(r[2]) for r in rows] == steps["loss"]
    assert all(r[3] and not r[4] for r in rows)  # a validation loss every step; no accuracy for regression


def test_history_is_json(jobs):
    job = jobs(TINY)
    run(job)
    h = json.loads(json.dumps(job.history(), allow_nan=False))
    assert h["state"] == "finished" and len(h["runs"]) == 1
    assert len(h["runs"][0]["steps"]["loss"]) == job.trainers[0].total_steps


def test_controls_from_other_threads_while_running_are_safe(jobs):
    job = jobs(ENDLESS)
    job.start()
    errors = []

    def hammer():
        try:
            for _ in range(20):
                job.history_event()
                job.model_npz()
                job.set_lr(0.005)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    job.stop()
    assert job.wait(10) and job.state in TERMINAL


# --- speed limit ---------------------------------------------------------------------------------
def test_pace_limits_the_steps_per_second_and_stop_cuts_its_sleep_short():
    job = Job(dict(TINY, pace=40, epochs=5))  # 15 steps at 40 steps/s: at least 14 intervals of 25 ms
    t0 = time.monotonic()
    job.start()
    assert job.wait(30) and job.state == "finished"
    assert job.history()["runs"][0]["step"] == 15 and time.monotonic() - t0 >= 14 / 40
    slow = Job(dict(TINY, pace=1, epochs=100))
    slow.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    slow.stop()
    assert slow.wait(5) and slow.state == "stopped"
    assert time.monotonic() - t0 < 0.9  # not the rest of a one-second sleep
