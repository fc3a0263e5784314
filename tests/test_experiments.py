"""The classic comparisons: runs differing in one setting, trained side by side, with histories to compare."""
import numpy as np
import pytest

from bpnet.engine.config import ConfigError, validate_config
from bpnet.engine.experiments import (COMPARISONS, compare_job, comparison_defaults, comparison_runs,
                                      run_comparison)
from bpnet.engine.job import Job
from bpnet.engine.trainer import Trainer

SMALL_FIT = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8, 8], "batch_size": 16,
             "epochs": 4, "seed": 2}
EXPECTED = {"normalization", "dropout", "batch_norm", "activation", "optimizer", "init"}


def test_the_issue_comparisons_are_all_there():
    assert set(COMPARISONS) == EXPECTED
    for spec in COMPARISONS.values():
        assert spec["title"] and spec["shows"] and len(spec["variants"]) >= 2
        labels = [label for label, _ in spec["variants"]]
        assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_runs_differ_from_the_base_exactly_in_the_variant_settings(name):
    base = comparison_defaults(name)
    runs = comparison_runs(name)
    assert [label for label, _ in runs] == [label for label, _ in COMPARISONS[name]["variants"]]
    for (label, config), (_, changes) in zip(runs, COMPARISONS[name]["variants"]):
        assert {k: v for k, v in config.items() if k not in changes} == {k: v for k, v in base.items()
                                                                          if k not in changes}
        assert all(config[k] == v for k, v in changes.items())
        validate_config(config)
    # the variants really differ from one another, in the variant settings only
    keys = {k for _, changes in COMPARISONS[name]["variants"] for k in changes}
    configs = [validate_config(c) for _, c in runs]
    for other in configs[1:]:
        differing = {k for k in configs[0] if configs[0][k] != other[k]}
        assert differing and differing <= keys


def test_runs_keep_a_users_base():
    runs = comparison_runs("dropout", SMALL_FIT)
    assert [c["dropout"] for _, c in runs] == [0.0, 0.5]
    assert all({k: v for k, v in c.items() if k != "dropout"} == SMALL_FIT for _, c in runs)
    assert "dropout" not in SMALL_FIT  # the base is not modified


def test_default_bases_are_quick_mnist_settings():
    for name in EXPECTED:
        base = validate_config(comparison_defaults(name))
        assert base["task"] == "mnist" and base["n_samples"] * base["epochs"] <= 50000  # images seen per run
    assert comparison_defaults("activation")["hidden"] == [128, 128, 128, 128]  # deep enough to show it


def test_unknown_comparison_is_a_config_error():
    for call in (comparison_runs, comparison_defaults, compare_job):
        with pytest.raises(ConfigError) as info:
            call("haircut")
        assert list(info.value.errors) == ["comparison"] and "activation" in info.value.errors["comparison"]


def test_an_invalid_base_is_rejected_naming_its_field():
    with pytest.raises(ConfigError) as info:
        compare_job("optimizer", dict(SMALL_FIT, momentum=2.0))
    assert "momentum" in info.value.errors


def test_a_small_activation_comparison_runs_side_by_side():
    events = []
    job = compare_job("activation", SMALL_FIT)
    job.subscribe(events.append)
    job.start()
    assert job.wait(30) and job.state == "finished"
    assert job.kind == "compare:activation"
    labels = ["sigmoid", "tanh", "ReLU"]
    datasets = [e for e in events if e["type"] == "dataset"]
    assert [(e["run"], e["label"]) for e in datasets] == list(enumerate(labels))
    assert [e["config"]["activation"] for e in datasets] == ["sigmoid", "tanh", "relu"]
    done = [e for e in events if e["type"] == "done"]
    assert sorted(e["run"] for e in done) == [0, 1, 2]
    assert all("val_loss" in e and e["steps"] == job.trainers[0].total_steps for e in done)
    for run in range(3):
        norms = [e for e in events if e["type"] == "norms" and e["run"] == run]
        assert norms and all(len(e["grad"]) == 3 for e in norms)
        steps = [s for e in events if e["type"] == "steps" and e["run"] == run for s in e["step"]]
        assert steps == list(range(1, job.trainers[run].total_steps + 1))
    assert [e["seq"] for e in events] == list(range(len(events)))
    history = job.history()
    assert [r["label"] for r in history["runs"]] == labels
    assert all(r["final"] is not None and r["norms"] for r in history["runs"])


def test_runs_in_a_comparison_train_exactly_as_they_would_alone():
    job = compare_job("optimizer", SMALL_FIT)
    job.start()
    assert job.wait(30)
    for (label, config), run in zip(comparison_runs("optimizer", SMALL_FIT), job.history()["runs"]):
        assert run["label"] == label
        assert run["steps"]["loss"] == [r["loss"] for r in Trainer(config).steps()]


def test_all_runs_see_the_same_data():
    job = compare_job("init", SMALL_FIT)
    x = [t.task.x_train for t in job.trainers]
    assert all(np.array_equal(x[0], other) for other in x[1:])


def test_run_comparison_returns_the_history():
    seen = []
    history = run_comparison("batch_norm", SMALL_FIT, listener=seen.append)
    assert history["state"] == "finished"
    assert [r["label"] for r in history["runs"]] == ["plain", "batch norm"]
    assert seen[0]["type"] == "history" and seen[-1]["state"] == "finished"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_one_diverging_run_does_not_end_the_others():
    fine = dict(SMALL_FIT, formula="100*x^3", x_min=-10, x_max=10, optimizer="sgd", lr=0.001, n_samples=50,
                epochs=20)
    job = Job(runs=[("slow", fine), ("too fast", dict(fine, lr=10))])
    job.start()
    assert job.wait(30)
    assert job.state == "finished"
    assert "too fast" in job.message and "lower learning rate" in job.message
    runs = job.history()["runs"]
    assert runs[0]["failure"] == "" and runs[0]["final"] is not None
    assert runs[1]["failure"] and runs[1]["final"] is None
    assert runs[0]["step"] == job.trainers[0].total_steps > runs[1]["step"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_comparison_whose_runs_all_diverge_fails():
    bad = dict(SMALL_FIT, formula="100*x^3", x_min=-10, x_max=10, optimizer="sgd", lr=10, n_samples=50, epochs=20)
    job = Job(runs=[("a", bad), ("b", dict(bad, seed=5))])
    job.start()
    assert job.wait(30) and job.state == "failed" and "lower learning rate" in job.message


def mean_grad_norms(config, steps=10):
    """Per weight layer, the gradient norm averaged over the first `steps` steps."""
    t = Trainer(config)
    norms = []
    for _, _ in zip(range(steps), t.steps()):
        norms.append(t.norms()["grad"])
    return np.mean(norms, axis=0)


def test_sigmoid_gradients_vanish_in_the_first_layers_of_a_deep_net():
    """The activation comparison's point: through five sigmoid layers the first layer's gradient is tiny next
    to the last layer's; with tanh or ReLU it is not."""
    base = dict(SMALL_FIT, hidden=[32] * 5, optimizer="sgd", lr=0.05, n_samples=200, epochs=1, seed=0)
    ratios = {}
    for label, config in comparison_runs("activation", base):
        g = mean_grad_norms(config)
        assert len(g) == 6
        ratios[label] = g[0] / g[-1]
    assert ratios["sigmoid"] < 1e-3
    assert ratios["tanh"] > 1e-2 and ratios["ReLU"] > 1e-2
    assert ratios["sigmoid"] * 100 < min(ratios["tanh"], ratios["ReLU"])


def test_zeros_init_keeps_hidden_units_identical_where_xavier_and_he_break_the_symmetry():
    base = dict(SMALL_FIT, optimizer="sgd", lr=0.1, epochs=30)
    trainers = {label: Trainer(config) for label, config in comparison_runs("init", base)}
    for t in trainers.values():
        list(t.steps())
    for label, t in trainers.items():
        hidden = [m.weight.data for _, m in t.layers[:-1]]
        identical = all(np.all(w == w[0]) for w in hidden)
        assert identical == (label == "zeros"), label
    loss = {label: t.final_metrics(0)["val_loss"] for label, t in trainers.items()}
    assert loss["He"] < 0.5 * loss["zeros"]
