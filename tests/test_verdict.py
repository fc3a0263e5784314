"""The verdict at the end of a run: the engine reads the run's history and says in words what happened. Each
kind is shown by a seeded run built to show it; the reason given is checked against the run's own curves."""
import numpy as np
import pytest

from bpnet.engine.job import Job
from bpnet.engine.trainer import Trainer
from bpnet.engine.verdict import KINDS, judge

SINE = {"task": "function", "optimizer": "sgd", "epochs": 300}  # 1,500 quick steps
# 20 noisy points, a big network, a small learning rate: the validation loss turns up after ~200 steps
OVERFITS = {"task": "function", "n_samples": 40, "val_fraction": 0.5, "noise": 0.4, "hidden": [128, 128],
            "batch_size": 20, "epochs": 2000, "lr": 0.0003}


def finished(config):
    """The recorder of a run trained to its end in a Job (the verdict is judged as the run ends)."""
    job = Job(config)
    events = []
    job.subscribe(events.append)
    job.start()
    assert job.wait(120)
    done = [e for e in events if e["type"] == "done"]
    assert len(done) == 1
    rec = job.recorders[0]
    assert done[0]["verdict"] == rec.verdict  # the done event carries it ...
    assert job.history()["runs"][0]["verdict"] == rec.verdict  # ... and so does the history
    assert rec.verdict["kind"] in KINDS and rec.verdict["title"]
    return rec


def curves(rec):
    return (rec.steps.column(c) for c in ("step", "loss", "val_loss"))


def test_an_overfitting_run_is_called_overfitting_from_where_its_validation_loss_turned():
    rec = finished(OVERFITS)
    verdict = rec.verdict
    assert verdict["kind"] == "overfitting", verdict
    at = verdict["step"]
    assert verdict["text"].startswith(f"validation loss rose while training loss fell from step {at:,}: overfitting")
    steps, train, val = curves(rec)
    lowest = int(steps[np.argmin(val)])
    assert abs(at - lowest) <= 0.05 * len(steps)  # the turn is where the validation loss was lowest (±5 % of the run)
    before, after = steps < at, steps > at + 0.1 * len(steps)
    assert np.median(val[after]) > 1.2 * np.min(val) and np.median(train[after]) < 0.5 * np.median(train[before])


def test_a_diverged_run_says_so_and_offers_a_learning_rate_ten_times_lower():
    rec = finished({**SINE, "lr": 1})
    assert rec.failure and rec.final is None
    step = rec.trainer.step + 1
    assert f"step {step}" in rec.failure  # the step whose loss was not finite
    assert rec.verdict == {"kind": "diverged", "title": "Diverged", "step": step,
                           "text": f"diverged at step {step:,}: the loss became infinite or not a number. Try a "
                                   "learning rate 10x lower (0.1 instead of 1)."}


def test_a_run_that_is_still_improving_asks_for_more_epochs():
    rec = finished({"task": "function", "formula": "sin(3*x)", "epochs": 200, "lr": 0.003})
    verdict = rec.verdict
    assert verdict["kind"] == "still_improving", verdict
    assert verdict["text"].startswith("still improving: the validation loss is falling by ")
    assert verdict["text"].endswith("more epochs would help.")
    _, _, val = curves(rec)
    tenth = len(val) // 10
    assert np.median(val[-tenth:]) < 0.95 * np.median(val[-2 * tenth:-tenth])  # it was still falling at the end


def test_a_good_fit_says_so():
    rec = finished({**SINE, "lr": 0.1})
    assert rec.verdict["kind"] == "good_fit", rec.verdict
    assert rec.verdict["text"].startswith("good fit: validation loss ")
    assert rec.final["val_loss"] < 0.05 * rec.dataset_event()["baseline"]["loss"]


def test_zero_initial_weights_are_not_learning_and_the_verdict_names_the_init():
    rec = finished({**SINE, "optimizer": "adam", "init": "zeros"})
    assert rec.verdict["kind"] == "not_learning", rec.verdict
    assert "no better than guessing" in rec.verdict["text"] and "Xavier or He" in rec.verdict["text"]
    assert rec.final["val_loss"] > 0.9 * rec.dataset_event()["baseline"]["loss"]


def test_two_units_underfit_a_sine_with_four_bends():
    rec = finished({"task": "function", "formula": "sin(2*x)", "hidden": [2], "epochs": 500})
    assert rec.verdict["kind"] == "underfitting", rec.verdict
    assert "larger network" in rec.verdict["text"]
    assert rec.final["train_loss"] > 0.2 * rec.dataset_event()["baseline"]["loss"]


def test_a_classifier_is_judged_by_its_accuracy_against_chance():
    rec = finished({"task": "classification", "dataset": "moons", "n_samples": 400, "epochs": 60})
    base = rec.dataset_event()["baseline"]
    assert base["accuracy"] == pytest.approx(0.5, abs=0.08) and base["loss"] == pytest.approx(np.log(2), rel=0.02)
    assert rec.verdict["kind"] == "good_fit", rec.verdict
    assert "% validation accuracy (chance: " in rec.verdict["text"]


def test_a_stopped_run_gets_no_verdict():
    job = Job({**SINE, "epochs": 5000})
    job.start()
    job.stop()
    assert job.wait(30)
    assert job.recorders[0].verdict is None and job.history()["runs"][0]["verdict"] is None


def test_the_baseline_is_what_guessing_scores_on_the_validation_set():
    fit = Trainer({"task": "function", "noise": 0.2}).task
    guess = fit.baseline()
    assert guess["loss"] == pytest.approx(np.mean((fit.y_val - fit.y_train.mean()) ** 2))
    assert guess["floor"] == pytest.approx(0.04) and "accuracy" not in guess
    digits = Trainer({"task": "mnist", "n_samples": 1000, "hidden": [8], "epochs": 1}).task
    guess = digits.baseline()
    assert guess["accuracy"] == pytest.approx(np.bincount(digits.y_val).max() / len(digits.y_val))
    assert guess["loss"] == pytest.approx(np.log(10), rel=0.02)


def test_judge_reads_only_a_runs_history():
    """The same judgement from the history alone (steps, final metrics, dataset), as a copy rebuilt elsewhere."""
    rec = finished({**SINE, "lr": 0.1})

    class Copy:
        steps, evals, final, failure, trainer = rec.steps, rec.evals, rec.final, rec.failure, rec.trainer
        dataset_event = staticmethod(rec.dataset_event)
    assert judge(Copy()) == rec.verdict
