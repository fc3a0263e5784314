"""A run's verdict in plain words, read from its history when it ends: overfitting, diverged, still improving...

    judge(recorder) -> {"kind": "overfitting", "title": "Overfitting", "step": 1200,
                        "text": "validation loss rose while training loss fell from step 1,200: overfitting. ..."}

The yardstick is what guessing scores (the dataset's ``baseline``: a constant prediction's loss, chance
accuracy, and the noise's variance where it is known), so the same rules read a sine fit, a spiral and MNIST.
In order, the first that applies:

  diverged         the loss became NaN or infinite (the run failed)
  overfitting      the validation loss rose from its low while the training loss went on falling
  unstable         both rose again from their lows (the learning rate is too high)
  still improving  the validation loss still falling clearly at the end of the run
  not learning     no better than guessing
  too short        too few points to read a trend from (and not yet a good fit)
  good fit         close to the best a perfect fit scores
  underfitting     levelled off short of that, on training and validation data alike
  gap              levelled off with the training loss well below the validation loss
"""
import math

import numpy as np

from .config import format_number

__all__ = ["judge", "KINDS"]

KINDS = ("diverged", "overfitting", "unstable", "still_improving", "not_learning", "too_short", "good_fit", "underfitting",
         "gap")
TITLES = {"diverged": "Diverged", "overfitting": "Overfitting", "unstable": "Unstable",
          "still_improving": "Still improving", "not_learning": "Not learning", "good_fit": "Good fit",
          "underfitting": "Underfitting", "gap": "Fits the training data better", "too_short": "Too short to tell"}

CHUNKS = 50  # the curves are read as the medians of 50 stretches of the run: minibatch losses jitter and spike
RISE = 0.10  # a validation loss 10 % above its low (and by 1 % of guessing's loss) has risen
TRAIN_FELL = 0.05  # ... while the training loss fell 5 % more
STILL = 0.05  # falling 5 % per tenth of the run at its end: still improving
SIGNIFICANT = 3  # ... by a slope three standard errors from 0
GUESSING = 0.9  # within 10 % of guessing's loss (and accuracy within 2 points of chance): not learning
GOOD = 0.05  # a fit's validation loss above the noise floor under 5 % of guessing's: good
GOOD_CLASSIFIER = 0.1  # a classifier's errors under 10 % of chance's (95 % right on two classes): good (classes
# may overlap, and their floor is not known)
ALIKE = 0.7  # training loss at least 70 % of the validation loss: no gap between them
MIN_POINTS = 10  # fewer points than this: no trend is read


def _chunks(steps, *curves):
    """(centre step, median of each curve) of CHUNKS consecutive stretches of the points (one point each when
    there are fewer)."""
    parts = np.array_split(np.arange(len(steps)), min(CHUNKS, len(steps)))
    centre = np.array([steps[p[len(p) // 2]] for p in parts])
    return (centre, *(np.array([np.median(c[p]) for p in parts]) for c in curves))


def _curves(run):
    """(steps, training loss, validation loss) with finite values, both per step (small sets: validation at
    every step) or per evaluation (MNIST: the training loss averaged between evaluations)."""
    if run.evals:
        steps = np.array([e["step"] for e in run.evals], dtype=float)
        train = np.array([np.nan if e.get("train_loss") is None else e["train_loss"] for e in run.evals], dtype=float)
        val = np.array([np.nan if e.get("val_loss") is None else e["val_loss"] for e in run.evals], dtype=float)
    else:
        steps, train, val = (np.asarray(run.steps.column(c), dtype=float) for c in ("step", "loss", "val_loss"))
    ok = np.isfinite(train) & np.isfinite(val)
    return steps[ok], train[ok], val[ok]


def _falling(v):
    """How much the curve falls over a tenth of the run, judged from its last 30 % (a straight line through the
    logs of its stretches): 0 unless the fall stands out of the noise (the slope three standard errors from 0)."""
    tail = np.log(np.maximum(v[-max(3, int(0.3 * len(v))):], 1e-300))
    if len(tail) < 3 or not np.isfinite(tail).all():
        return 0.0
    x = np.arange(len(tail), dtype=float)
    slope, intercept = np.polyfit(x, tail, 1)
    spread = np.sqrt(np.sum((tail - (slope * x + intercept)) ** 2) / (len(tail) - 2) / np.sum((x - x.mean()) ** 2))
    if slope >= 0 or -slope < SIGNIFICANT * spread:
        return 0.0
    return float(1 - np.exp(slope * len(v) / 10))  # the fall per tenth of the run


def _verdict(kind, text, step=None):
    return {"kind": kind, "title": TITLES[kind], "text": text, "step": None if step is None else int(step)}


def _round(step):
    """A step as a person would say it: two significant digits (1,234 -> 1,200; 87 -> 87)."""
    step = int(step)
    if step < 100:
        return step
    scale = 10 ** (len(str(step)) - 2)
    return int(round(step / scale) * scale)


def _sentence(text):
    return text[:1].upper() + text[1:]


def _pct(share):
    return f"{100 * share:.0f} %" if share >= 0.095 else f"{100 * share:.1g} %"


def _diverged(run, config):
    steps = run.steps.column("lr")
    lr = float(steps[-1]) if len(steps) and math.isfinite(steps[-1]) else config["lr"]
    step = run.trainer.step + 1
    return _verdict("diverged", f"diverged at step {step:,}: the loss became infinite or not a number. Try a learning "
                                f"rate 10x lower ({format_number(lr / 10)} instead of {format_number(lr)}).", step)


def _advice_when_stuck(config):
    if config.get("init") == "zeros":
        return ("every weight started at 0, so every hidden unit computes the same thing and gets the same update: "
                "choose Xavier or He initialisation")
    if config.get("activation") == "sigmoid" and len(config.get("hidden", [])) >= 2:
        return "sigmoid's gradients may be vanishing on their way back: try ReLU or tanh, or batch norm"
    if config.get("optimizer") in ("sgd", "momentum", "nesterov") and config["lr"] < 0.01:
        return f"the learning rate ({format_number(config['lr'])}) may be too low for SGD: try it 10x higher"
    return "try another learning rate or a larger network"


def judge(run):
    """The verdict of a run that has ended (a Recorder, or anything with its steps, evals, final, failure,
    trainer.step and dataset_event()): {"kind", "title", "text", "step"}; None if it has not ended."""
    dataset = run.dataset_event()
    config = dataset["config"]
    if run.failure:
        return _diverged(run, config)
    final = run.final
    if not final:
        return None
    base = dataset.get("baseline") or {}
    guess, floor = base.get("loss"), base.get("floor") or 0.0
    chance = base.get("accuracy")
    classifier = chance is not None
    val, train = final.get("val_loss"), final.get("train_loss")
    if val is None or guess is None or not math.isfinite(val):
        return None
    steps, train_curve, val_curve = _curves(run)
    trend = len(steps) >= MIN_POINTS
    if trend:
        steps, t, v = _chunks(steps, train_curve, val_curve)
        low = int(np.argmin(v))
        rose = v[-1] > v[low] * (1 + RISE) and v[-1] - v[low] > 0.01 * max(guess - floor, 1e-12)
        if rose and low < 0.9 * (len(v) - 1):
            at = _round(steps[low])
            if t[-1] < t[low] * (1 - TRAIN_FELL):
                return _verdict("overfitting", f"validation loss rose while training loss fell from step {at:,.0f}: "
                                               "overfitting. Fewer epochs, more data, dropout or weight decay would "
                                               "help.", at)
            t_low = int(np.argmin(t))
            at = _round(steps[min(low, t_low)])
            return _verdict("unstable", f"the loss rose again from step {at:,.0f}, on the training data too: "
                                        "the learning rate is probably too high; try it 3x lower.", at)
    if classifier:
        acc = final.get("val_acc", 0.0)
        excess = (1 - acc) / max(1 - chance, 1e-12)
        stuck = val >= GUESSING * guess or acc <= chance + 0.02
        level = f"{_pct(acc)} validation accuracy (chance: {_pct(chance)})"
        good = GOOD_CLASSIFIER
    else:
        excess = max(val - floor, 0.0) / max(guess - floor, 1e-12)
        stuck = val >= GUESSING * guess
        level = f"validation loss {val:.3g}, {_pct(excess)} of what guessing the mean gets"
        good = GOOD
    if trend:
        fell = _falling(v)
        if fell > STILL and excess > good:
            more = "; a higher learning rate would get there sooner" if excess > 0.5 else ""
            return _verdict("still_improving", f"still improving: the validation loss is falling by {_pct(fell)} per "
                                               f"tenth of the run at its end ({level}): more epochs would help{more}.")
    if stuck:
        return _verdict("not_learning", f"not learning: {level}, no better than guessing. {_sentence(_advice_when_stuck(config))}.")
    if not trend and excess > good:
        return _verdict("too_short", f"too short to read a trend ({len(steps)} evaluations): {level}. Train longer, "
                                     "or evaluate more often, to see where it is going.")
    if excess <= good:
        if not trend:
            return _verdict("good_fit", f"good fit: {level} (too few evaluations to read a trend from).")
        note = " It is still improving: more epochs would refine it." if fell > STILL else ""
        return _verdict("good_fit", f"good fit: {level}, with no sign of overfitting.{note}")
    if train is not None and train >= ALIKE * val:
        bigger = "a larger network (more units or layers) would fit better"
        if config.get("optimizer") in ("sgd", "momentum", "nesterov") and config["lr"] < 0.01:
            bigger += f", or a higher learning rate ({format_number(config['lr'])} is low for SGD)"
        return _verdict("underfitting", f"underfitting: it levelled off at {level}, on the training data alike: {bigger}.")
    return _verdict("gap", f"levelled off with a gap: validation loss {val:.3g} against {train:.3g} on the training "
                           f"data ({level}): the network fits its training points better than new ones; more data, "
                           "dropout or weight decay would help.")
