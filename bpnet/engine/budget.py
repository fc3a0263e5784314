"""What a job will cost, estimated from its shapes before it starts, and the budget it must fit.

Every field of a config is bounded, but not their product: the largest CNN would add 8 GB to the process
training it and take half a day; a comparison multiplies by its runs. estimate(config) sizes one run from its
architecture (models.architecture) and data: memory for parameters, gradients and optimiser state, the
activations of a training batch or an evaluation batch (whichever is larger), the data and the history; work
as the multiply-adds of every training step, evaluation and final metric, at a conservative rate for one core
(RATES, measured on the development machine with one BLAS thread, then halved). check(configs) refuses runs
that, side by side, exceed the limits (BPNET_MAX_JOB_MEMORY, BPNET_MAX_JOB_SECONDS), with a ConfigError naming
the fields whose shrinking helps most.
"""
import math
import os
from dataclasses import dataclass, field

from ..data import holdout_size
from .config import ConfigError
from .models import architecture
from .tasks import TASK_CLASSES

__all__ = ["Estimate", "Limits", "estimate", "check", "limits_from_env", "parse_bytes", "DEFAULT_MEMORY",
           "DEFAULT_SECONDS"]

DEFAULT_MEMORY = 4 * 1024 ** 3  # bytes a job may use: a 24 GB, 2-core machine runs two jobs and the web
DEFAULT_SECONDS = 3600  # estimated single-core seconds a job may train
RATES = {"linear": 30e9, "conv": 8e9}  # multiply-add FLOP/s of one core: GEMMs, and convolutions by im2col
STEP_SECONDS = 1e-3  # Python and engine overhead per training step (events, norms, the optimiser's loop)
FLOAT = 4  # bytes: jobs train in float32
EVAL_BATCH = 1000  # tasks.EVAL_BATCH: evaluations run in batches of this many samples
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2}
HISTORY_BYTES_PER_STEP = 400  # the step series, then the CSV and JSON history written when the job ends
MNIST_BYTES = 560 * 2 ** 20  # MNIST loaded (measured at its peak): float images, the 0-255 pixels shown, labels
ADVICE = {"batch_size": "use a smaller batch size", "hidden": "use fewer or smaller hidden layers",
          "conv_channels": "use fewer conv channels", "epochs": "use fewer epochs", "n_samples": "use fewer samples",
          "eval_every": "evaluate less often (a larger interval)", "val_subset": "use a smaller validation subset"}


@dataclass
class Estimate:
    """Bytes at the peak and single-core seconds, with their parts (for the advice)."""

    memory: float = 0.0
    seconds: float = 0.0
    memory_parts: dict = field(default_factory=dict)
    seconds_parts: dict = field(default_factory=dict)

    def __add__(self, other):
        add = lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}  # noqa: E731
        return Estimate(self.memory + other.memory, self.seconds + other.seconds,
                        add(self.memory_parts, other.memory_parts), add(self.seconds_parts, other.seconds_parts))


@dataclass
class Limits:
    memory: float = DEFAULT_MEMORY
    seconds: float = DEFAULT_SECONDS


def _split(config):
    """(training, validation, test) sample counts of a run (tasks.py splits the same way)."""
    n = config["n_samples"]
    if config["task"] == "mnist":
        return n, 10_000, 10_000
    n_val = holdout_size(n, config["val_fraction"])
    return n - n_val, n_val, 0


def estimate(config):
    """The Estimate of one validated run config."""
    task = TASK_CLASSES[config["task"]]
    layers = architecture(config, task.input_shape(config), task.out_features)
    macs, params = {"linear": 0, "conv": 0}, 0  # per sample: multiply-adds; per model: parameters
    outs = cols = 0  # per sample: floats of the layers' outputs, and of the convolutions' im2col columns
    for kind, inp, out in layers:
        size = math.prod(out)
        outs += size
        if kind == "linear":
            macs["linear"] += inp[0] * out[0]
            params += inp[0] * out[0] + out[0]
        elif kind == "conv":
            macs["conv"] += size * inp[0] * 9
            params += out[0] * inp[0] * 9 + out[0]
            cols += math.prod(out[1:]) * inp[0] * 9
        elif kind == "norm":
            params += 2 * out[0]
    forward = sum(2 * macs[k] / RATES[k] for k in macs)  # seconds per sample
    share = {k: 2 * macs[k] / RATES[k] / forward if forward else 0.0 for k in macs}  # of the forward's time
    n_train, n_val, n_test = _split(config)
    batch = min(config["batch_size"], n_train)
    steps = config["epochs"] * math.ceil(n_train / config["batch_size"])

    if config["task"] == "mnist":
        evals = steps // config["eval_every"] * config["val_subset"] + config["epochs"] * n_val
        data = MNIST_BYTES
    else:
        evals = steps * n_val  # small data sets are validated at every step
        data = (n_train + n_val) * 16 * FLOAT
    seconds_parts = {"train": steps * batch * 3 * forward, "eval": (evals + n_train + n_val + n_test) * forward,
                     "steps": steps * STEP_SECONDS}
    compute = seconds_parts["train"] + seconds_parts["eval"]
    seconds_parts.update(dense=compute * share["linear"], conv=compute * share["conv"])
    memory_parts = {"parameters": params * FLOAT * (2 + OPTIMIZER_STATE[config["optimizer"]]),
                    "activations": FLOAT * max(batch * (3 * outs + 2 * cols),  # outputs, caches, gradients
                                               min(EVAL_BATCH, max(n_train, n_val)) * (2 * outs + cols)),
                    "data": data, "history": steps * HISTORY_BYTES_PER_STEP}
    return Estimate(sum(memory_parts.values()), sum(seconds_parts[k] for k in ("train", "eval", "steps")),
                    memory_parts, seconds_parts)


def check(configs, limits=None):
    """Raise ConfigError if the runs, trained side by side in one job, exceed the limits (env by default)."""
    limits = limits or limits_from_env()
    total = Estimate()
    for c in configs:
        total = total + estimate(c)
    subject = "this job" if len(configs) == 1 else f"these {len(configs)} runs side by side"
    errors = {}
    if total.memory > limits.memory:
        what = (f"{subject} would need about {_size(total.memory)} of memory, over the {_size(limits.memory)} a "
                "job may use here")
        errors.update({f: f"{what}: {ADVICE[f]}" for f in _memory_fields(configs[0], total)})
    if total.seconds > limits.seconds:
        what = (f"{subject} would take about {_duration(total.seconds)} to train, over the "
                f"{_duration(limits.seconds)} a job may take here")
        errors.update({f: f"{what}: {ADVICE[f]}" for f in _time_fields(configs[0], total) if f not in errors})
    if errors:
        raise ConfigError(errors)


def _memory_fields(config, total):
    parts, fields = total.memory_parts, []
    if parts["activations"] >= 0.25 * total.memory:
        fields.append("batch_size")
    if parts["activations"] + parts["parameters"] >= 0.25 * total.memory:
        fields.append("conv_channels" if config.get("model") == "cnn" else "hidden")
    if parts["history"] >= 0.25 * total.memory or not fields:
        fields.append("epochs")
    return fields


def _time_fields(config, total):
    parts, fields = total.seconds_parts, ["epochs", "n_samples"]
    if parts["conv"] >= 0.25 * total.seconds:
        fields.append("conv_channels")
    if parts["dense"] >= 0.25 * total.seconds:
        fields.append("hidden")
    if config["task"] == "mnist" and parts["eval"] >= 0.25 * total.seconds:
        fields += ["eval_every", "val_subset"]
    return fields


def _size(n):
    for unit, scale in (("GiB", 2 ** 30), ("MiB", 2 ** 20)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n / 2 ** 10:.0f} KiB"


def _duration(s):
    if s >= 3600:
        return f"{s / 3600:.0f} h" if s >= 36000 else f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def parse_bytes(text):
    """'4G', '512M', '1.5g', '4294967296' -> bytes (binary units); ValueError if it is not a positive size."""
    text = str(text).strip().upper().removesuffix("B").removesuffix("I")
    scale = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}.get(text[-1:], 1)
    value = float(text[:-1] if scale > 1 else text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("not a positive size")
    return value * scale


def limits_from_env():
    """The limits from BPNET_MAX_JOB_MEMORY ('4G', bytes) and BPNET_MAX_JOB_SECONDS; ValueError if malformed."""
    memory, seconds = os.environ.get("BPNET_MAX_JOB_MEMORY"), os.environ.get("BPNET_MAX_JOB_SECONDS")
    try:
        memory = parse_bytes(memory) if memory else DEFAULT_MEMORY
    except ValueError:
        raise ValueError(f"BPNET_MAX_JOB_MEMORY must be a size such as 4G or 512M, got {memory!r}")
    try:
        seconds = float(seconds) if seconds else DEFAULT_SECONDS
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError
    except ValueError:
        raise ValueError(f"BPNET_MAX_JOB_SECONDS must be a positive number of seconds, got {seconds!r}")
    return Limits(memory, seconds)
