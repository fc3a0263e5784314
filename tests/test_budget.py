"""The budget: a config's memory and work estimated from its shapes, refused past the limits with the fields to
shrink, for the web and the command line alike; a comparison counts all its runs."""
import pytest

from bpnet.cli import main as cli
from bpnet.engine import budget
from bpnet.engine.config import ConfigError, TASKS, defaults, validate_config
from bpnet.engine.experiments import COMPARISONS, comparison_runs

# the largest settings the schema allows
BIGGEST_CNN = {"task": "mnist", "model": "cnn", "conv_channels": [64, 64, 64], "hidden": [1024] * 8,
               "batch_size": 4096, "epochs": 100}
BIGGEST_FIT = {"task": "function", "n_samples": 20000, "hidden": [1024] * 8, "batch_size": 8, "epochs": 1000}
LIMITS = budget.Limits()  # the defaults: 4 GiB and an hour


def errors(configs, limits=LIMITS):
    with pytest.raises(ConfigError) as info:
        budget.check([validate_config(c) for c in configs], limits)
    return info.value.errors


def test_every_default_and_every_comparison_fits_the_default_budget():
    for task in TASKS:
        budget.check([validate_config(defaults(task))], LIMITS)
    budget.check([validate_config(dict(defaults("mnist"), model="cnn"))], LIMITS)
    for name in COMPARISONS:
        budget.check([validate_config(c) for _, c in comparison_runs(name)], LIMITS)


def test_the_largest_cnn_is_refused_for_its_memory_and_its_time_naming_what_to_shrink():
    found = errors([BIGGEST_CNN])
    assert {"batch_size", "conv_channels", "epochs"} <= found.keys()
    assert "of memory, over the 4.0 GiB a job may use here" in found["batch_size"]
    assert "smaller batch size" in found["batch_size"] and "fewer conv channels" in found["conv_channels"]
    assert "h to train, over the 1.0 h a job may take here: use fewer epochs" in found["epochs"]
    assert all(len(m) < 200 for m in found.values())


def test_the_largest_function_fit_is_refused_for_its_time():
    found = errors([BIGGEST_FIT])
    assert {"epochs", "n_samples"} <= found.keys() and "batch_size" not in found
    assert "to train, over the 1.0 h" in found["epochs"]


def test_estimates_grow_with_what_they_count():
    base = validate_config({"task": "mnist", "hidden": [128]})
    est = lambda **changes: budget.estimate(validate_config({**base, **changes}))  # noqa: E731
    assert est(epochs=10).seconds > 1.9 * est(epochs=5).seconds
    assert est(hidden=[1024]).memory_parts["parameters"] > 7 * est(hidden=[128]).memory_parts["parameters"]
    assert est(batch_size=4096).memory_parts["activations"] > 3.9 * est(batch_size=1024).memory_parts["activations"]
    assert est(optimizer="adam").memory_parts["parameters"] == 2 * est(optimizer="sgd").memory_parts["parameters"]
    assert est(model="cnn", conv_channels=[64, 64]).seconds > est(model="cnn", conv_channels=[16, 16]).seconds


def test_a_comparison_counts_all_its_runs():
    run = validate_config({"task": "mnist", "hidden": [256], "epochs": 4})
    one = budget.estimate(run)
    limit = budget.Limits(seconds=one.seconds * 3)
    budget.check([run], limit)
    found = errors([run] * 5, limit)  # five runs that each fit, together over the limit
    assert "these 5 runs side by side would take about" in found["epochs"]


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BPNET_MAX_JOB_MEMORY", "512M")
    monkeypatch.setenv("BPNET_MAX_JOB_SECONDS", "90")
    assert budget.limits_from_env() == budget.Limits(512 * 2 ** 20, 90)
    for size, value in (("4G", 4 * 2 ** 30), ("1.5GiB", 1.5 * 2 ** 30), ("1048576", 2 ** 20), ("64kb", 2 ** 16)):
        assert budget.parse_bytes(size) == value
    for bad in ("lots", "-1G", "0", "nanG", ""):
        monkeypatch.setenv("BPNET_MAX_JOB_MEMORY", bad)
        if bad:
            with pytest.raises(ValueError, match="BPNET_MAX_JOB_MEMORY must be a size"):
                budget.limits_from_env()
    monkeypatch.setenv("BPNET_MAX_JOB_MEMORY", "4G")
    monkeypatch.setenv("BPNET_MAX_JOB_SECONDS", "soon")
    with pytest.raises(ValueError, match="BPNET_MAX_JOB_SECONDS"):
        budget.limits_from_env()


def test_the_command_line_refuses_an_over_budget_job_field_by_field(capsys):
    code = cli(["train", "--task", "function", "--n-samples", "20000", "--hidden", ",".join(["1024"] * 8),
                "--batch-size", "8", "--epochs", "1000", "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "error: epochs: this job would take about" in err and "error: n_samples:" in err


def test_the_web_refuses_an_over_budget_start_field_by_field_and_creates_nothing(socket_client, manager):
    c = socket_client()
    ack = c.call("start", {"config": BIGGEST_CNN})
    assert ack["ok"] is False and ack["message"].startswith("invalid settings: ")
    assert {"batch_size", "conv_channels", "epochs"} <= ack["errors"].keys()
    ack = c.call("start", {"comparison": "optimizer", "config": dict(BIGGEST_CNN, conv_channels=[32], epochs=20)})
    assert ack["ok"] is False and "these 5 runs side by side" in " ".join(ack["errors"].values())
    assert manager._jobs == {} and manager._starting == []


def test_the_estimate_counts_each_dataset_s_own_input_features():
    def parameters(dataset):
        c = validate_config({"task": "classification", "dataset": dataset, "hidden": [16], "optimizer": "sgd"})
        return budget.estimate(c).memory_parts["parameters"]
    # spheres has a third feature: 16 more first-layer weights (value, gradient, momentum-free SGD)
    assert parameters("spheres") - parameters("circles") == 16 * budget.FLOAT * (2 + budget.OPTIMIZER_STATE["sgd"])
