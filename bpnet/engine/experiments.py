"""The classic comparisons: runs that differ in one setting, trained side by side in one job."""
from .config import ConfigError, defaults
from .job import Job

__all__ = ["COMPARISONS", "BASE_TASKS", "comparison_runs", "comparison_defaults", "compare_job", "run_comparison"]

# name -> title, what it shows (the one-line story its default run tells: tests/test_presets.py checks it for
# seeds 0-2), the variants as (label, settings that differ), and the base: "suggest" (settings of any base
# experiment, MNIST or the 1-D function) and "mnist" (settings of the MNIST base only)
COMPARISONS = {
    "normalization": {
        "title": "Input normalisation",
        "shows": "raw pixel values (0-255) stall SGD with momentum, while standardised inputs learn",
        "variants": [("raw inputs", {"normalize_inputs": False}), ("standardised", {"normalize_inputs": True})],
        "suggest": {"optimizer": "momentum", "lr": 0.01}},
    "dropout": {
        "title": "Dropout",
        "shows": "overfitting on few images: without dropout the validation loss climbs away from the training "
                 "loss; dropout keeps it lower",
        "variants": [("no dropout", {"dropout": 0.0}), ("dropout 0.5", {"dropout": 0.5})],
        "mnist": {"n_samples": 1000, "epochs": 30, "hidden": [256, 256], "eval_every": 50}},
    "batch_norm": {
        "title": "Batch normalisation", "shows": "how batch norm speeds up and steadies training",
        "variants": [("plain", {"batch_norm": False}), ("batch norm", {"batch_norm": True})]},
    "activation": {
        "title": "Activation functions",
        "shows": "sigmoid's vanishing gradients: its first layers barely learn and it stays near chance, while tanh "
                 "and ReLU train",
        "variants": [("sigmoid", {"activation": "sigmoid"}), ("tanh", {"activation": "tanh"}),
                     ("ReLU", {"activation": "relu"})],
        "suggest": {"hidden": [128, 128, 128, 128], "optimizer": "sgd", "lr": 0.05, "init": "he_normal",
                    "batch_size": 32},
        "mnist": {"n_samples": 5000}},
    "optimizer": {
        "title": "Optimisers", "shows": "SGD, momentum, Adagrad, RMSprop and Adam, each at a learning rate that suits it",
        "variants": [("SGD", {"optimizer": "sgd", "lr": 0.1}), ("momentum", {"optimizer": "momentum", "lr": 0.01}),
                     ("Adagrad", {"optimizer": "adagrad", "lr": 0.01}),
                     ("RMSprop", {"optimizer": "rmsprop", "lr": 0.001}), ("Adam", {"optimizer": "adam", "lr": 0.001})]},
    "init": {
        "title": "Weight initialisation", "shows": "zeros (every unit stays the same) against Xavier and He",
        "variants": [("zeros", {"init": "zeros"}), ("Xavier", {"init": "xavier_uniform"}), ("He", {"init": "he_normal"})]},
}

# a small, quick MNIST setting that still shows each effect within a minute or two; a constant learning rate and
# no augmentation, so that the one setting a comparison varies is the only trick in play
BASE = {"task": "mnist", "hidden": [100, 100], "n_samples": 10000, "epochs": 3, "eval_every": 20, "val_subset": 500,
        "lr": 0.001, "lr_schedule": "constant", "batch_size": 128, "shift": 0}


BASE_TASKS = ("mnist", "function")  # the experiments a comparison can be run on


def comparison_defaults(name, task="mnist"):
    """The base config the comparison starts from (before the user's changes), on MNIST or the 1-D function."""
    _check(name)
    spec = COMPARISONS[name]
    if task == "mnist":
        return {**defaults("mnist"), **BASE, **spec.get("mnist", {}), **spec.get("suggest", {})}
    if task not in BASE_TASKS:
        raise ConfigError({"task": f"a comparison runs on {' or '.join(BASE_TASKS)}; got {str(task)[:30]!r}"})
    base = defaults(task)
    return {**base, **{k: v for k, v in spec.get("suggest", {}).items() if k in base}}


def _check(name):
    if name not in COMPARISONS:
        raise ConfigError({"comparison": f"unknown comparison {str(name)[:30]!r}; choose from {', '.join(COMPARISONS)}"})


def comparison_runs(name, base=None):
    """[(label, config), ...]: the base config with each variant's settings applied."""
    _check(name)
    base = comparison_defaults(name) if base is None else dict(base)
    return [(label, {**base, **changes}) for label, changes in COMPARISONS[name]["variants"]]


def compare_job(name, base=None, **job_options):
    """A Job training every variant of the comparison side by side."""
    return Job(runs=comparison_runs(name, base), kind=f"compare:{name}", **job_options)


def run_comparison(name, base=None, listener=None):
    """Run a comparison to the end in this thread's wait; returns the job's full history."""
    job = compare_job(name, base)
    if listener is not None:
        job.subscribe(listener)
    job.start()
    job.wait()
    return job.history()
