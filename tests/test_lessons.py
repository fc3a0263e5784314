"""Every lesson: its page's shape (two or three paragraphs, setups, one question), every setup link valid, and
every setup's run (seeded, as the link gives it) showing what the lesson says it shows."""
import functools
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from bpnet.engine import lessons
from bpnet.engine.config import validate_config
from bpnet.engine.job import Job
from bpnet.engine.setups import lesson_setups, read_setup


def setup_of(url):
    """The page and settings a lesson's link opens with (as the page reads it), checking it reads cleanly."""
    parts = urlsplit(url)
    page = parts.path.strip("/")
    setup = read_setup(page, parse_qsl(parts.query, keep_blank_values=True))
    assert setup["problems"] == [], (url, setup["problems"])
    return page, setup


@functools.lru_cache(maxsize=None)
def _run(key):
    job = Job({k: list(v) if isinstance(v, tuple) else v for k, v in key})
    job.start()
    assert job.wait(300)
    return job.recorders[0]


def runs(slug):
    """{setup label: the recorder of its run, trained to the end} for a lesson's setups (a setup two lessons
    share is trained once)."""
    out = {}
    for link in lesson_setups(lessons.get(slug)):
        _, setup = setup_of(link["url"])
        config = validate_config({"task": setup["task"], **setup["values"]})
        out[link["label"]] = _run(tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in config.items()))
    return out


def grad_ratio(rec):
    """The median over the run of the last weight layer's gradient norm over the first's."""
    g = np.array([n["grad"] for n in rec.norm_history])
    return float(np.median(g[:, -1] / g[:, 0]))


@pytest.mark.parametrize("lesson", lessons.LESSONS, ids=lambda lesson: lesson["slug"])
def test_every_lesson_has_its_paragraphs_setups_and_one_question(lesson):
    assert 2 <= len(lesson["paragraphs"]) <= 3 and all(len(p) > 100 for p in lesson["paragraphs"])
    assert lesson["question"].endswith("?") and lesson["question"].count("?") <= 2
    assert 1 <= len(lesson["setups"]) <= 3 and lesson["title"] and lesson["summary"]
    for link in lesson_setups(lesson):
        page, setup = setup_of(link["url"])
        assert setup["lesson"]["slug"] == lesson["slug"] and page == setup["task"]
    assert lessons.get(lesson["slug"]) is lesson


def test_the_lessons_are_the_ones_a_course_needs():
    assert [lesson["slug"] for lesson in lessons.LESSONS] == [
        "fitting", "overfitting", "learning-rate", "momentum", "normalisation", "vanishing-gradients", "batch-norm",
        "initialisation", "confusion-matrix"]
    assert lessons.get("nope") is None and lessons.get(None) is None


def test_fitting_two_units_underfit_where_32_fit():
    r = runs("fitting")
    small, big = r["2 hidden units"], r["32 hidden units"]
    assert small.verdict["kind"] == "underfitting" and big.verdict["kind"] == "good_fit"
    assert big.final["val_loss"] < small.final["val_loss"] / 100  # "hundreds of times lower"
    assert small.final["train_loss"] > 0.7 * small.final["val_loss"]  # training and validation stay together


def test_overfitting_and_both_regularisers_lower_the_validation_loss():
    r = runs("overfitting")
    plain = r["No regularisation"]
    assert plain.verdict["kind"] == "overfitting", plain.verdict
    assert plain.verdict["step"] < 500  # the turn comes early: 20 points are learnt by heart
    for label in ("Dropout 0.3", "Weight decay 0.01"):
        held = r[label]
        assert held.final["val_loss"] < 0.85 * plain.final["val_loss"], label
        assert held.final["train_loss"] > plain.final["train_loss"], label  # paid for with the training loss


def test_a_learning_rate_too_high_diverges_too_low_crawls_and_in_between_fits():
    r = runs("learning-rate")
    assert r["Learning rate 1"].verdict["kind"] == "diverged" and r["Learning rate 1"].trainer.step < 50
    slow = r["Learning rate 0.001"]
    assert slow.verdict["kind"] == "underfitting" and "higher learning rate" in slow.verdict["text"]
    # "little more than a straight line": about the loss of the best straight line through the training points
    task = slow.trainer.task
    coef = np.polyfit(task.data.x_train[:, 0], task.data.y_train[:, 0], 1)
    line = np.mean((np.polyval(coef, task.data.x_val[:, 0]) - task.data.y_val[:, 0]) ** 2)
    assert 0.8 * line < slow.final["val_loss"] < 1.1 * line
    assert r["Learning rate 0.1"].verdict["kind"] == "good_fit"


def test_momentum_gets_much_further_in_the_same_steps():
    r = runs("momentum")
    plain, momentum = r["Plain SGD"], r["SGD with momentum 0.9"]
    assert plain.trainer.step == momentum.trainer.step == 1500
    assert momentum.final["val_loss"] < plain.final["val_loss"] / 10


def test_normalised_inputs_fit_where_raw_ones_stall():
    r = runs("normalisation")
    assert r["Normalised inputs"].final["val_loss"] < r["Raw inputs"].final["val_loss"] / 10
    assert r["Normalised inputs"].verdict["kind"] == "good_fit" and r["Raw inputs"].verdict["kind"] != "good_fit"


def test_sigmoid_gradients_vanish_on_the_two_sphere_net_and_relus_do_not():
    r = runs("vanishing-gradients")
    sigmoid, relu = r["Sigmoid network"], r["ReLU network"]
    assert sigmoid.trainer.task.in_shape == (3,)
    chance = sigmoid.dataset_event()["baseline"]["accuracy"]
    assert sigmoid.verdict["kind"] == "not_learning" and sigmoid.final["val_acc"] < chance + 0.05
    assert grad_ratio(sigmoid) > 20  # "tens of times smaller"
    assert relu.final["val_acc"] > 0.95 and grad_ratio(relu) < 3


def test_batch_norm_makes_the_stalled_sigmoid_net_learn():
    r = runs("batch-norm")
    without, with_bn = r["Without batch norm"], r["With batch norm"]
    assert without.verdict["kind"] == "not_learning" and with_bn.final["val_acc"] > 0.95
    assert grad_ratio(with_bn) < grad_ratio(without) / 10


def test_zero_weights_learn_a_constant_where_xavier_and_he_fit():
    r = runs("initialisation")
    zeros = r["Zeros"]
    assert zeros.verdict["kind"] == "not_learning"
    assert np.ptp(zeros.snapshot_payload["y_pred"]) < 1e-6  # its curve is flat: it never changes shape
    for label in ("Xavier, tanh", "He, ReLU"):
        assert r[label].verdict["kind"] == "good_fit", (label, r[label].verdict)


def test_the_confusion_matrix_lesson_has_a_most_common_mistake_to_find():
    rec = runs("confusion-matrix")["A small MNIST network"]
    confusion = np.array(rec.snapshot_payload["confusion"])
    assert confusion.sum() == len(rec.trainer.task.y_val)  # the whole validation split, once
    assert rec.final["val_acc"] > 0.85
    off = np.where(np.eye(10, dtype=bool), 0, confusion)  # the mistakes
    assert (np.diag(confusion) > off.max(axis=1)).all()  # every digit read right more often than as any other
    worst = np.unravel_index(off.argmax(), off.shape)
    assert worst[0] != worst[1] and off[worst] >= 2 * np.median(off[off > 0])  # one mistake stands out
