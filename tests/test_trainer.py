"""The Trainer: one run step by step from a config; reproducible, validated at every step (or periodically for
MNIST), divergence detected, learning rate controllable, every model variant buildable."""
import itertools
import math
import tracemalloc

import numpy as np
import pytest

from bpnet import nn
from bpnet.engine.config import ConfigError, batches_per_epoch, training_size, validate_config
from bpnet.engine.models import build_model, weight_layers
from bpnet.engine.tasks import predict
from bpnet.engine.trainer import Diverged, Trainer

FUNCTION = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8, 8], "batch_size": 16,
            "epochs": 3, "seed": 3}
SURFACE = {"task": "surface", "formula": "x*y", "n_samples": 80, "hidden": [8], "batch_size": 16, "epochs": 2}
CLASSIFICATION = {"task": "classification", "dataset": "moons", "n_samples": 80, "hidden": [8], "batch_size": 16,
                  "epochs": 2}
MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [32], "epochs": 1, "val_subset": 100, "eval_every": 3,
         "batch_size": 128}
DIVERGES = {"task": "function", "formula": "100*x^3", "x_min": -10, "x_max": 10, "optimizer": "sgd", "lr": 10,
            "n_samples": 50, "hidden": [8], "epochs": 20}


def losses(config):
    return [rec["loss"] for rec in Trainer(config).steps()]


# ----------------------------------------------------------------------------- reproducibility

@pytest.mark.parametrize("config", [
    FUNCTION,
    dict(FUNCTION, dropout=0.3, batch_norm=True, optimizer="momentum", lr=0.05),
    dict(CLASSIFICATION, noise=0.3, init="he_normal"),
    dict(SURFACE, noise=0.1),
], ids=["function", "dropout+batchnorm", "classification", "surface"])
def test_same_config_and_seed_give_the_same_losses_bit_for_bit(config):
    a, b = losses(config), losses(config)
    assert len(a) == Trainer(config).total_steps
    assert a == b  # exact equality of every float
    assert losses(dict(config, seed=config.get("seed", 0) + 1)) != a


def test_validation_losses_are_reproducible_too():
    runs = [[rec["val_loss"] for rec in Trainer(FUNCTION).steps()] for _ in range(2)]
    assert runs[0] == runs[1]


def test_mnist_is_reproducible():
    config = dict(MNIST, dropout=0.2)
    first = [(r["loss"], r.get("eval", {}).get("val_loss")) for r in Trainer(config).steps()]
    assert first == [(r["loss"], r.get("eval", {}).get("val_loss")) for r in Trainer(config).steps()]


# ----------------------------------------------------------------------------- records and validation

@pytest.mark.parametrize("config", [FUNCTION, SURFACE, CLASSIFICATION], ids=["function", "surface", "classification"])
def test_small_tasks_validate_at_every_step(config):
    t = Trainer(config)
    records = list(t.steps())
    assert [r["step"] for r in records] == list(range(1, t.total_steps + 1))
    assert t.total_steps == t.steps_per_epoch * config["epochs"]
    assert records[-1]["epoch"] == config["epochs"]
    for r in records:
        assert math.isfinite(r["loss"]) and math.isfinite(r["val_loss"])
        assert "eval" not in r
        if config["task"] == "classification":
            assert 0.0 <= r["val_acc"] <= 1.0
        else:
            assert r["val_acc"] is None


def test_validation_loss_is_the_loss_on_the_validation_split():
    t = Trainer(FUNCTION)
    rec = next(t.steps())
    loss, _, _ = t.task.evaluate(t.model, t.task.x_val, t.task.y_val)
    assert rec["val_loss"] == loss
    assert rec["val_loss"] != rec["loss"]


def test_train_and_validation_splits_have_the_configured_sizes():
    t = Trainer(dict(FUNCTION, n_samples=100, val_fraction=0.25))
    assert len(t.task.x_train) == 75 and len(t.task.x_val) == 25


def test_mnist_evaluates_on_a_fixed_subset_every_few_steps_and_on_the_whole_split_at_epoch_end():
    t = Trainer(dict(MNIST, epochs=2))  # 1000 images in batches of 128: 7 full batches per epoch
    assert t.steps_per_epoch == 7
    evals = [(r["step"], r["eval"]) for r in t.steps() if "eval" in r]
    assert [(step, ev["split"]) for step, ev in evals] == [
        (3, "subset"), (6, "subset"), (7, "full"), (9, "subset"), (12, "subset"), (14, "full")]
    subsets = [ev["indices"] for _, ev in evals if ev["split"] == "subset"]
    assert all(len(ix) == 100 for ix in subsets)
    assert all(np.array_equal(ix, subsets[0]) for ix in subsets)  # the same images every time
    assert len(np.unique(subsets[0])) == 100
    for step, ev in evals:
        n = 100 if ev["split"] == "subset" else len(t.task.x_val)
        assert ev["step"] == step and len(ev["indices"]) == n and ev["outputs"].shape == (n, 10)
        assert 0.0 <= ev["val_acc"] <= 1.0 and math.isfinite(ev["val_loss"])
        assert 0.0 <= ev["train_acc"] <= 1.0 and math.isfinite(ev["train_loss"])


@pytest.mark.parametrize("config, full_batches", [
    (dict(FUNCTION, n_samples=201, batch_size=32), 5),              # 161 training points: 5 x 32 + 1
    (dict(CLASSIFICATION, n_samples=401, batch_size=32), 10),       # 321: 10 x 32 + 1
    (dict(MNIST, n_samples=1025, eval_every=100), 8),               # 1025 images: 8 x 128 + 1
], ids=["function", "classification", "mnist"])
def test_the_incomplete_last_batch_is_dropped_so_batch_norm_trains(config, full_batches):
    t = Trainer(dict(config, batch_norm=True))
    batch_size = t.config["batch_size"]
    assert len(t.task.x_train) == full_batches * batch_size + 1
    assert [len(xb) for xb, _ in Trainer(t.config).loader] == [batch_size] * full_batches
    assert t.steps_per_epoch == full_batches and t.total_steps == full_batches * t.config["epochs"]
    records = list(itertools.islice(t.steps(), full_batches + 1))  # one epoch and a step into the next
    assert records[full_batches - 1]["epoch"] == 1.0
    assert all(math.isfinite(r["loss"]) for r in records)


def test_a_training_set_smaller_than_one_batch_is_one_batch():
    t = Trainer(dict(FUNCTION, n_samples=20, batch_size=32, batch_norm=True))  # 16 training points
    assert t.steps_per_epoch == 1 and [len(xb) for xb, _ in t.loader] == [16]
    assert len(list(t.steps())) == t.config["epochs"]


@pytest.mark.parametrize("task", [FUNCTION, CLASSIFICATION], ids=["function", "classification"])
def test_every_valid_small_batch_norm_config_trains(task):
    """A config validate_config accepts never fails in training (a job would call that an internal error)."""
    trained = 0
    for n_samples, val_fraction, batch_size in itertools.product((10, 11, 13, 17), (0.05, 0.2, 0.5), range(1, 12)):
        config = dict(task, n_samples=n_samples, val_fraction=val_fraction, batch_size=batch_size, batch_norm=True,
                      epochs=1)
        try:
            t = Trainer(config)
        except ConfigError:
            continue
        assert len(list(t.steps())) == t.total_steps
        assert t.total_steps == batches_per_epoch(training_size(t.config), batch_size)  # as validation counts them
        trained += 1
    assert trained > 100


def test_mnist_steps_without_evaluation_carry_no_validation():
    records = list(Trainer(MNIST).steps())
    assert all("val_loss" not in r for r in records)
    assert sum("eval" in r for r in records) == 3


def test_mnist_learns_something_in_one_small_epoch():
    t = Trainer(dict(MNIST, epochs=2))
    evals = [r["eval"] for r in t.steps() if "eval" in r]
    assert evals[-1]["val_acc"] > 0.5  # well above chance (0.1)
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]


# ----------------------------------------------------------------------------- divergence

@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_raises_with_a_helpful_message():
    t = Trainer(DIVERGES)
    with pytest.raises(Diverged) as info:
        for _ in t.steps():
            pass
    message = str(info.value)
    assert "diverged" in message and "lower learning rate" in message
    assert f"step {t.step + 1}" in message
    assert t.step < t.total_steps


def test_the_same_problem_with_a_small_learning_rate_does_not_diverge():
    assert all(math.isfinite(loss) for loss in losses(dict(DIVERGES, lr=0.1)))


# ----------------------------------------------------------------------------- learning rate

def test_set_lr_takes_effect_from_the_next_step():
    t = Trainer(dict(FUNCTION, optimizer="sgd", lr=0.01))
    steps = t.steps()
    assert next(steps)["lr"] == 0.01
    t.set_lr(0.5)
    assert t.optimizer.lr == 0.5
    w = t.layers[-1][1].weight.data.copy()
    rec = next(steps)
    assert rec["lr"] == 0.5
    # plain SGD: the update is exactly lr times the gradient
    np.testing.assert_allclose(t.layers[-1][1].weight.data, w - 0.5 * t.layers[-1][1].weight.grad, rtol=1e-6)


def test_set_lr_changes_the_rest_of_the_run():
    t = Trainer(FUNCTION)
    steps = t.steps()
    first = [next(steps)["loss"] for _ in range(3)]
    t.set_lr(0.1)
    rest = [r["loss"] for r in steps]
    assert first + rest != losses(FUNCTION)
    assert first == losses(FUNCTION)[:3]


def test_cosine_schedule_decays_from_the_base_rate_to_about_zero():
    t = Trainer(dict(FUNCTION, lr=0.05, lr_schedule="cosine", epochs=10))
    lrs = [r["lr"] for r in t.steps()]
    assert lrs[0] == 0.05
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.05 * 1e-2
    assert lrs[len(lrs) // 2] == pytest.approx(0.025, rel=0.05)


def test_cosine_schedule_scales_a_changed_rate():
    t = Trainer(dict(FUNCTION, lr=0.05, lr_schedule="cosine", epochs=10))
    steps = t.steps()
    for _ in range(t.total_steps // 2):
        next(steps)
    t.set_lr(1.0)
    assert next(steps)["lr"] == pytest.approx(0.5, rel=0.05)


def test_constant_schedule_keeps_the_rate():
    assert {r["lr"] for r in Trainer(FUNCTION).steps()} == {0.01}


# ----------------------------------------------------------------------------- models

@pytest.mark.parametrize("activation, init, batch_norm, dropout", [
    *itertools.product(["relu", "leaky_relu", "tanh", "sigmoid"], ["default"], [False], [0.0]),
    *itertools.product(["relu"], ["zeros", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal"], [False],
                       [0.0]),
    ("tanh", "he_normal", True, 0.0), ("relu", "xavier_uniform", False, 0.5), ("sigmoid", "default", True, 0.2),
])
def test_every_model_variant_builds_and_trains(activation, init, batch_norm, dropout):
    config = dict(CLASSIFICATION, activation=activation, init=init, batch_norm=batch_norm, dropout=dropout,
                  hidden=[6, 5], epochs=1)
    t = Trainer(config)
    kinds = [type(m) for m in t.model]
    act = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]
    assert kinds.count(nn.Linear) == 3 and kinds.count(act) == 2
    assert kinds.count(nn.BatchNorm1d) == (2 if batch_norm else 0)
    assert kinds.count(nn.Dropout) == (2 if dropout else 0)
    assert [m.out_features for m in t.model if isinstance(m, nn.Linear)] == [6, 5, 2]
    if init == "zeros":
        assert all(not m.weight.data.any() for m in t.model if isinstance(m, nn.Linear))
    records = list(t.steps())
    assert all(math.isfinite(r["loss"]) for r in records)


def test_classic_small_cnn_goes_straight_from_the_convolutions_to_the_head():
    t = Trainer(dict(MNIST, model="cnn", conv_channels=[4, 8], hidden=[], eval_every=100))
    assert [type(m) for m in t.model] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.ReLU, nn.MaxPool2d,
                                          nn.Flatten, nn.Linear]


def test_zeros_init_keeps_every_hidden_unit_identical():
    t = Trainer(dict(FUNCTION, init="zeros", hidden=[4], optimizer="sgd", lr=0.1))
    list(t.steps())
    w = t.layers[0][1].weight.data
    assert np.all(w == w[0])  # symmetry is never broken


def test_cnn_for_mnist_builds_and_trains():
    t = Trainer(dict(MNIST, model="cnn", conv_channels=[4, 8], batch_norm=True, dropout=0.25, hidden=[16],
                     eval_every=100))
    kinds = [type(m) for m in t.model]
    assert kinds.count(nn.Conv2d) == 2 and kinds.count(nn.MaxPool2d) == 2 and kinds.count(nn.BatchNorm2d) == 2
    # conv blocks, flatten, dropout, the hidden dense layer (batch norm, ReLU, dropout), then the linear head
    assert kinds.count(nn.Flatten) == 1 and kinds.count(nn.Dropout) == 2 and kinds.count(nn.BatchNorm1d) == 1
    linears = [m for m in t.model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(8 * 7 * 7, 16), (16, 10)]
    records = list(itertools.islice(t.steps(), 2))  # (the whole split at epoch end takes seconds for a CNN)
    assert [r["step"] for r in records] == [1, 2] and all(math.isfinite(r["loss"]) for r in records)
    assert [n for n, _ in t.layers] == ["Conv2d 1", "Conv2d 2", "Linear 3", "Linear 4"]
    assert len(t.norms()["grad"]) == 4


def test_mnist_mlp_flattens_images():
    t = Trainer(MNIST)
    assert isinstance(t.model[0], nn.Flatten)
    assert t.model[1].in_features == 784 and t.model[-1].out_features == 10


def test_build_model_uses_only_its_generator():
    from bpnet.engine.config import validate_config
    c = validate_config(dict(FUNCTION, hidden=[5, 5]))
    a = build_model(c, (1,), 1, np.random.default_rng(7))
    b = build_model(c, (1,), 1, np.random.default_rng(7))
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert np.array_equal(pa.data, pb.data)
    assert [n for n, _ in weight_layers(a)] == ["Linear 1", "Linear 2", "Linear 3"]


# ----------------------------------------------------------------------------- norms and final metrics

def test_norms_give_one_entry_per_weight_layer():
    t = Trainer(dict(FUNCTION, hidden=[8, 6, 4]))
    next(t.steps())
    n = t.norms()
    assert n["step"] == 1
    assert n["names"] == ["Linear 1", "Linear 2", "Linear 3", "Linear 4"]
    assert len(n["grad"]) == len(n["weight"]) == 4
    assert all(g > 0 for g in n["grad"]) and all(w > 0 for w in n["weight"])
    assert n["weight"][0] == pytest.approx(float(np.linalg.norm(t.layers[0][1].weight.data)))


def test_final_metrics_has_test_accuracy_for_mnist_only():
    t = Trainer(FUNCTION)
    list(t.steps())
    m = t.final_metrics(1.5)
    assert m["steps"] == t.total_steps and m["seconds"] == 1.5
    assert {"train_loss", "val_loss"} <= m.keys()
    assert not any(k.startswith("test") or k.endswith("_acc") for k in m)

    t = Trainer(CLASSIFICATION)
    list(t.steps())
    m = t.final_metrics(0.1)
    assert {"train_acc", "val_acc"} <= m.keys() and not any(k.startswith("test") for k in m)

    t = Trainer(MNIST)
    list(t.steps())
    m = t.final_metrics(0.1)
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc"} <= m.keys()
    assert 0.0 <= m["test_acc"] <= 1.0


def test_final_metrics_are_in_eval_mode():
    t = Trainer(dict(FUNCTION, dropout=0.5))
    list(t.steps())
    assert t.final_metrics(0) == t.final_metrics(0)  # dropout off: deterministic
    assert t.model.training  # and training mode is restored


def test_config_is_validated_and_data_problems_are_config_errors():
    with pytest.raises(ConfigError):
        Trainer({"task": "function", "lr": -1})
    t = Trainer({"task": "function", "lr": "0.02", "n_samples": "40", "epochs": "1"})
    assert t.config["lr"] == 0.02 and t.total_steps == 1


def test_predictions_and_evaluations_keep_no_caches_for_backward():
    """The engine predicts under no_grad(): a CNN's eval over many images holds nothing afterwards (it held the
    im2col columns of the last batch, 253 MiB for the MNIST validation set)."""
    config = validate_config(dict(MNIST, model="cnn", conv_channels=[8, 16], hidden=[]))
    model = build_model(config, (1, 28, 28), 10, np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((1000, 1, 28, 28)).astype(np.float32)
    model.backward(model(x[:8]) * 0 + 1)  # a training step came first
    tracemalloc.start()
    out = predict(model, x)
    held = tracemalloc.get_traced_memory()[0] - out.nbytes
    tracemalloc.stop()
    assert held < 1e6, f"{held / 2**20:.1f} MiB held after predicting"
    with pytest.raises(RuntimeError, match="no_grad"):  # and nothing stale is left for a backward either
        model.backward(np.ones((1000, 10), np.float32))
