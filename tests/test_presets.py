"""Each comparison preset tells its one-line story in its default run, for seeds 0, 1 and 2: the ordering of
the final metrics its "shows" line promises (the runs are the dashboard's defaults, small enough for CI)."""
import numpy as np
import pytest

from bpnet.engine.experiments import comparison_defaults, run_comparison

SEEDS = (0, 1, 2)


def finals(name, seed):
    """{label: final metrics} and {label: gradient-norm samples} of the preset's default run with this seed."""
    history = run_comparison(name, {**comparison_defaults(name), "seed": seed})
    assert all(r["failure"] == "" for r in history["runs"]), [r["failure"] for r in history["runs"]]
    return ({r["label"]: r["final"] for r in history["runs"]},
            {r["label"]: np.array([n["grad"] for n in r["norms"]]) for r in history["runs"]})


@pytest.mark.parametrize("seed", SEEDS)
def test_normalisation_raw_pixels_stall_while_standardised_inputs_learn(seed):
    f, _ = finals("normalization", seed)
    raw, std = f["raw inputs"], f["standardised"]
    assert std["val_acc"] > 0.85 and raw["val_acc"] < 0.5, (raw, std)
    assert std["val_loss"] < raw["val_loss"] / 2


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_keeps_the_validation_loss_of_an_overfitting_network_lower(seed):
    f, _ = finals("dropout", seed)
    none, drop = f["no dropout"], f["dropout 0.5"]
    assert none["train_loss"] < 0.05  # it has learnt the few images by heart
    assert drop["val_loss"] < 0.95 * none["val_loss"], (none, drop)
    assert drop["val_loss"] - drop["train_loss"] < none["val_loss"] - none["train_loss"]  # a smaller gap
    assert drop["val_acc"] >= none["val_acc"] - 0.005


@pytest.mark.parametrize("seed", SEEDS)
def test_activation_sigmoid_gradients_vanish_while_tanh_and_relu_train(seed):
    f, grads = finals("activation", seed)
    sig, tanh, relu = f["sigmoid"], f["tanh"], f["ReLU"]
    assert sig["val_acc"] < 0.5 and min(tanh["val_acc"], relu["val_acc"]) > 0.85, (sig, tanh, relu)
    assert relu["val_acc"] >= tanh["val_acc"] - 0.01  # ReLU does not lose to tanh
    # the picture behind it: sigmoid's first layer gets a far smaller gradient than its last, ReLU's does not
    first_over_last = {k: float(np.median(g[:, 0] / g[:, -1])) for k, g in grads.items()}
    assert first_over_last["sigmoid"] < 0.1 < first_over_last["ReLU"], first_over_last
