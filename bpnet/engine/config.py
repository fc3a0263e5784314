"""The one job-config schema: every field's type, default, limits and label, and its validation.

`validate_config(raw)` takes a plain dict (from JSON, a web form or the command line: numbers may arrive as
strings) and returns a complete, clean dict, or raises ConfigError with one clear message per bad field.
The web form is generated from `schema()`, so a limit is written only here.
"""
import math
import numbers
import re

import numpy as np

from ..data.loader import holdout_size
from ..formula import FormulaError, parse_formula
from . import user_data

__all__ = ["ConfigError", "FIELDS", "GLOSSARY", "TASKS", "OPTIMIZERS", "validate_config", "validate_field", "schema", "defaults",
           "MAX_STEPS", "training_size", "batches_per_epoch", "format_number", "field_spec", "check_formula",
           "formula_warning", "MAX_DATA_BYTES", "GENERATOR_FIELDS"]

TASKS = ("function", "surface", "classification", "mnist")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
INITS = ("default", "zeros", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
MAX_STEPS = 2_000_000  # epochs x batches per epoch: bounds the work one job may ask for
MAX_DATA_BYTES = 1_000_000  # one uploaded CSV file (20,000 rows of x1,x2,label take about 600 kB)
MAX_DATA_VALUE = 1e9  # a value of one's own data beyond this is not something a small network can be shown to fit


class ConfigError(ValueError):
    """Invalid config: `errors` maps each bad field to one message."""

    def __init__(self, errors):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def _field(kind, default, label, low=None, high=None, choices=None, tasks=TASKS, per_task=None, help="",
           max_len=None, when=None, watch_default=None, glossary=""):
    """A setting's spec; `when` ({other: [values]}) says which other settings make it matter (for forms);
    `watch_default`, where set, is the value the dashboard starts from instead of `default` (the engine's and
    the command line's); `glossary`, what the setting means for a learner (the form's "?" beside it and
    `python -m bpnet fields` show it)."""
    return {"kind": kind, "default": default, "label": label, "min": low, "max": high, "choices": choices,
            "tasks": tasks, "per_task": per_task or {}, "help": help, "max_len": max_len, "when": when,
            "watch_default": default if watch_default is None else watch_default, "glossary": glossary}


GLOSSARY = {
    "normalize_inputs": "Standardising the inputs: each input feature has the training set's mean subtracted and is "
                        "divided by its standard deviation, so every feature arrives around 0 with a spread of 1. "
                        "Units then start away from the flat ends of tanh and sigmoid, and one learning rate suits "
                        "every weight.",
    "activation": "The function each hidden unit applies to its weighted sum z. ReLU: max(0, z), cheap and with a "
                  "gradient of 1 wherever it is active (but 0, a dead unit, where it is not); leaky ReLU lets a "
                  "little through below 0. Tanh and sigmoid are smooth S-curves whose gradients fade where they "
                  "flatten: sigmoid's is at most 0.25, so it shrinks the error signal at every layer (vanishing "
                  "gradients).",
    "init": "How the weights start before training. Zeros makes every unit of a layer identical for ever (nothing "
            "breaks the symmetry). Xavier (Glorot) draws them with a spread set by the layer's inputs and outputs, "
            "for tanh and sigmoid; He (Kaiming) draws them √2 larger, for ReLU, which zeroes half its inputs; "
            "uniform or normal is the shape of the draw. Default: PyTorch's own (uniform, ±1/√inputs).",
    "dropout": "During training, each hidden unit's output is set to 0 at random with this probability on every "
               "step (and the others scaled up to make up for it), so no unit can rely on a few others: a cure for "
               "overfitting. At evaluation every unit is kept.",
    "batch_norm": "Batch normalisation: after each hidden weight layer, every unit's value is standardised over the "
                  "minibatch (mean 0, spread 1), then scaled and shifted by two learnt numbers. Each layer sees "
                  "inputs of a steady size, which speeds training up and lets deeper networks learn; at "
                  "evaluation it uses averages kept during training.",
    "optimizer": "How each step turns the gradients into weight changes. SGD: w -= lr × gradient. Momentum "
                 "(and Nesterov) keeps a running sum of past gradients and steps along it, faster along steady "
                 "directions. Adagrad, RMSprop and Adam give every weight its own step size from its gradients' "
                 "history; Adam also adds momentum. AdamW is Adam with weight decay applied to the weights directly.",
    "lr": "The learning rate: how far each step moves the weights along their (negative) gradient. Too high and "
          "the loss jumps about or diverges to infinity; too low and it crawls.",
    "momentum": "How much of the previous steps' velocity each step keeps (0.9: nine tenths). The velocity "
                "v = momentum × v + gradient, and the weights move by lr × v: up to 1 / (1 − momentum) times "
                "further than plain SGD along a steady slope.",
    "weight_decay": "Each step also pulls every weight towards 0 by this fraction of itself (times the learning "
                    "rate), like adding the squared weights to the loss: small weights make smoother functions, "
                    "a cure for overfitting.",
    "shift": "Data augmentation: every time a training image is used, it is moved by a random whole number of "
             "pixels, up to this many, left or right and up or down (blank pixels fill the edge it leaves). The "
             "network never sees quite the same digit twice, so it learns that a digit moved a little is still that "
             "digit, and overfits less. Validation and test images are never moved. 0: no shifts.",
    "lr_schedule": "How the learning rate changes over the run. Constant keeps it; cosine lowers it smoothly "
                   "along half a cosine wave, from the rate set at the start to 0 at the last step, so that the "
                   "final steps settle into a minimum instead of bouncing around it.",
}


FIT = ("function", "surface")
GENERATED = ("function", "surface", "classification")
FIELDS = {
    "task": _field("choice", "function", "Experiment", choices=TASKS),
    "formula": _field("str", "sin(x)", "Formula", high=200, tasks=FIT,
                      per_task={"surface": {"default": "sin(x)*cos(y)"}}, help="e.g. sin(3*x)*exp(-x^2)"),
    "x_min": _field("float", -math.pi, "x from", -1000, 1000, tasks=FIT, per_task={"surface": {"default": -2.0}}),
    "x_max": _field("float", math.pi, "x to", -1000, 1000, tasks=FIT, per_task={"surface": {"default": 2.0}}),
    "y_min": _field("float", -2.0, "y from", -1000, 1000, tasks=("surface",)),
    "y_max": _field("float", 2.0, "y to", -1000, 1000, tasks=("surface",)),
    "dataset": _field("choice", "spiral", "Dataset", choices=("moons", "spiral", "circles", "xor", "spheres"),
                      tasks=("classification",), help="spheres: two clouds in 3-D, drawn by their first two features"),
    "n_samples": _field("int", 200, "Samples", 10, 20000, tasks=GENERATED + ("mnist",),
                        per_task={"surface": {"default": 1000}, "classification": {"default": 1000},
                                  "mnist": {"default": 50000, "min": 1000, "max": 50000,
                                            "help": "training images used (the validation split is apart)"}},
                        help="training + validation points"),
    "noise": _field("float", 0.0, "Noise (std)", 0.0, 10.0, tasks=GENERATED,
                    per_task={"classification": {"default": 0.05}}),
    "val_fraction": _field("float", 0.2, "Validation fraction", 0.05, 0.5, tasks=GENERATED),
    "data": _field("data", None, "Your own data", 10, 20000, tasks=GENERATED,
                   help="a CSV file or pasted text; a header row is optional",
                   per_task={t: {"columns": list(user_data.COLUMNS[t])} for t in GENERATED}),
    "model": _field("choice", "mlp", "Model", choices=("mlp", "cnn"), tasks=("mnist",)),
    "hidden": _field("int_list", [32, 32], "Hidden layers", 1, 1024, max_len=8, per_task={
        "classification": {"default": [32, 32]},
        "mnist": {"default": [512, 512], "help": "units per hidden layer, e.g. 64,64 (at most 8 layers); for a CNN, "
                                                 "the dense layers after the convolutions"}},
        help="units per hidden layer, e.g. 64,64 (at most 8 layers)"),
    "conv_channels": _field("int_list", [16, 32], "Conv channels", 1, 64, tasks=("mnist",), max_len=3,
                            when={"model": ["cnn"]},
                            help="channels of the conv blocks (Conv-ReLU-MaxPool), at most 3"),
    "activation": _field("choice", "tanh", "Activation", choices=ACTIVATIONS,
                         per_task={"mnist": {"default": "relu"}}),
    "init": _field("choice", "default", "Weight init", choices=INITS),
    "dropout": _field("float", 0.0, "Dropout", 0.0, 0.9),
    "shift": _field("int", 1, "Shift", 0, 4, tasks=("mnist",),
                    help="training images moved by up to this many pixels at random; 0: none"),
    "batch_norm": _field("bool", False, "Batch norm"),
    "normalize_inputs": _field("bool", True, "Normalise inputs",
                               help="standardise inputs with the training set's mean and std"),
    "optimizer": _field("choice", "adam", "Optimiser", choices=OPTIMIZERS),
    "lr": _field("float", 0.01, "Learning rate", 1e-6, 10.0, per_task={"mnist": {"default": 0.002}}),
    "momentum": _field("float", 0.9, "Momentum", 0.0, 0.999, help="for SGD with momentum or Nesterov momentum",
                       when={"optimizer": ["momentum", "nesterov"]}),
    "weight_decay": _field("float", 0.0, "Weight decay", 0.0, 1.0),
    "lr_schedule": _field("choice", "constant", "LR schedule", choices=("constant", "cosine"),
                          per_task={"classification": {"default": "cosine"}, "mnist": {"default": "cosine"}}),
    "batch_size": _field("int", 32, "Batch size", 1, 4096, per_task={"mnist": {"default": 256}}),
    "epochs": _field("int", 1000, "Epochs", 1, 5000,
                     per_task={"surface": {"default": 300}, "classification": {"default": 200},
                               "mnist": {"default": 5, "max": 100}}),
    # the dashboard starts runs at a pace the eye can follow (a default 1-D run: 5,000 steps in 20 s), the
    # engine and the command line as fast as they can; MNIST's steps are slow enough by themselves
    "pace": _field("int", 0, "Speed (steps/s)", 0, 1000, watch_default=250, per_task={"mnist": {"watch_default": 0}},
                   help="training steps per second at most; 0: as fast as the server can. Changeable during a run"),
    "seed": _field("int", 0, "Seed", 0, 2**31 - 1),
    "eval_every": _field("int", 100, "Evaluate every (steps)", 1, 100000, tasks=("mnist",),
                         help="validation on a fixed subset every so many steps; the whole split every epoch"),
    "val_subset": _field("int", 1000, "Validation subset", 100, 10000, tasks=("mnist",)),
}


FIELDS["data"].update(max_bytes=MAX_DATA_BYTES, max_value=MAX_DATA_VALUE)
# what one's own data replaces: set from the data (n_samples its rows, the domain its range) or unused
GENERATOR_FIELDS = ("formula", "x_min", "x_max", "y_min", "y_max", "dataset", "n_samples", "noise")
FIELDS["data"]["replaces"] = list(GENERATOR_FIELDS)

for _name, _text in GLOSSARY.items():
    FIELDS[_name]["glossary"] = _text
del _name, _text


def field_spec(name, task):
    """The field's spec with the task's overrides applied."""
    spec = dict(FIELDS[name])
    spec.update(spec.pop("per_task").get(task, {}))
    if name == "task":
        spec["default"] = task  # defaults(task) and schema()[task] describe that task
    if name == "data":
        spec["task"] = task  # the columns and checks of one's own data are the task's
    return spec


def defaults(task="function"):
    """A complete default config for a task."""
    return {name: field_spec(name, task)["default"] for name in FIELDS if task in FIELDS[name]["tasks"]}


def schema():
    """Per task, every field's spec (kind, default, min, max, choices, label, help): drives the web forms."""
    return {task: {name: field_spec(name, task) for name in FIELDS if task in FIELDS[name]["tasks"]}
            for task in TASKS}


# numbers as a person types them: Python's own float() and int() also take "1_000", "٣" (Arabic-Indic 3), "nan"
TYPED = {"float": user_data.NUMBER,
         "int": re.compile(r"[+-]?\d+", re.ASCII)}


def _number(value, kind):
    if isinstance(value, str):
        value = value.strip()
        if value.lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise ValueError("expected a finite number")
        if not TYPED[kind].fullmatch(value):
            raise ValueError(f"expected {'a number' if kind == 'float' else 'a whole number'}, got {value[:30]!r}")
        try:
            value = float(value) if kind == "float" else int(value)
        except ValueError:  # more digits than Python converts (4300)
            raise ValueError("number too large")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    try:
        as_float = float(value)  # a huge integer (JSON allows any) overflows here
    except OverflowError:
        raise ValueError("number too large")
    if not math.isfinite(as_float):
        raise ValueError("expected a finite number")
    if kind == "int":
        if value != int(value):
            raise ValueError(f"expected a whole number, got {value}")
        return int(value)
    return as_float


def format_number(v):
    """A number for a message: whole numbers in full (2147483647), others short (1e-06)."""
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _in_range(value, spec):
    if spec["min"] is not None and value < spec["min"] or spec["max"] is not None and value > spec["max"]:
        raise ValueError(f"must be between {format_number(spec['min'])} and {format_number(spec['max'])}, got {format_number(value)}")
    return value


def _coerce(value, spec):
    kind = spec["kind"]
    if kind in ("int", "float"):
        return _in_range(_number(value, kind), spec)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "on", "off", "1", "0", "yes", "no"):
            return value.lower() in ("true", "on", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"expected true or false, got {str(value)[:30]!r}")
    if kind == "choice":
        if value not in spec["choices"]:
            raise ValueError(f"must be one of {', '.join(spec['choices'])}; got {str(value)[:30]!r}")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {type(value).__name__}")
        if len(value) > spec["max"]:
            raise ValueError(f"at most {spec['max']} characters, got {len(value)}")
        return value.strip()
    if kind == "data":
        if value is None:
            return None
        if isinstance(value, str):
            raise ValueError("your own data is uploaded on its page (or read from a file with --data), "
                             "it cannot be given as text here")
        return user_data.check(value, spec["task"], spec)
    if kind == "int_list":
        if isinstance(value, str):
            value = [v for v in value.replace(" ", "").split(",") if v] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise ValueError("expected a list of whole numbers, e.g. 64,64")
        if len(value) > spec["max_len"]:
            raise ValueError(f"at most {spec['max_len']} layers, got {len(value)}")
        return [_in_range(_number(v, "int"), spec) for v in value]
    raise AssertionError(kind)


def validate_field(name, value, task="function"):
    """One setting, coerced and range-checked as validate_config would (ConfigError naming the field)."""
    try:
        return _coerce(value, field_spec(name, task))
    except ValueError as exc:
        raise ConfigError({name: str(exc)}) from exc


def validate_config(raw):
    """A complete, clean config dict from user input, or ConfigError listing every bad field."""
    if not isinstance(raw, dict):
        raise ConfigError({"config": f"expected an object of settings, got {type(raw).__name__}"})
    task = raw.get("task", FIELDS["task"]["default"])
    if task not in TASKS:
        raise ConfigError({"task": f"must be one of {', '.join(TASKS)}; got {str(task)[:30]!r}"})
    config, errors = {}, {}
    for name in raw:
        if name not in FIELDS:
            errors[str(name)[:40]] = "unknown setting"
    for name in FIELDS:
        spec = field_spec(name, task)
        if task not in spec["tasks"]:
            continue
        try:
            config[name] = _coerce(raw[name], spec) if name in raw else spec["default"]
        except ValueError as exc:
            errors[name] = str(exc)
    if config.get("data") is not None:
        _from_data(config)
    errors.update(_cross_checks(config, errors))
    if errors:
        raise ConfigError(errors)
    return config


def _from_data(c):
    """One's own data sets what the generator's settings would: the number of samples, the domain (the inputs'
    range, which the pictures span), no added noise."""
    c["n_samples"] = len(c["data"]["values"])
    c["noise"] = 0.0
    if c["task"] in ("function", "surface"):
        x = np.asarray(c["data"]["values"], dtype=np.float64)
        for j, name in enumerate(("x", "y")[:x.shape[1] - 1]):
            c[f"{name}_min"], c[f"{name}_max"] = float(x[:, j].min()), float(x[:, j].max())


def check_formula(c, n=201):
    """Parse the config's formula and check it is finite on an even grid over the domain (FormulaError if not)."""
    if c["task"] == "function":
        parse_formula(c["formula"], ("x",)).check_finite(np.linspace(c["x_min"], c["x_max"], n))
    else:
        xs, ys = np.meshgrid(np.linspace(c["x_min"], c["x_max"], 41), np.linspace(c["y_min"], c["y_max"], 41))
        parse_formula(c["formula"], ("x", "y")).check_finite(xs, ys)


def training_size(c):
    """How many samples a valid config trains on (the tasks split off validation the same way)."""
    n = c["n_samples"]
    return n if c["task"] == "mnist" else n - holdout_size(n, c["val_fraction"])


def batches_per_epoch(n_train, batch_size):
    """Full batches only: the incomplete last one is dropped (PyTorch's drop_last), unless it is the only one."""
    return max(1, n_train // batch_size)


HUGE = 1e6  # a target beyond this on its domain is not something a small network can be shown to fit


def _peak(formula, box, n):
    """(largest |f| on an n-point-per-axis grid over box [(lo, hi) per variable], its point, the grid steps);
    NaN and infinity count as infinitely large."""
    axes = [np.linspace(lo, hi, n) for lo, hi in box]
    grid = np.meshgrid(*axes, indexing="ij")
    with np.errstate(all="ignore"):
        values = np.broadcast_to(formula(*grid), grid[0].shape)
        size = np.where(np.isfinite(values), np.abs(values), np.inf)
    worst = np.unravel_index(int(np.argmax(size)), size.shape)
    return float(size[worst]), tuple(float(g[worst]) for g in grid), [(hi - lo) / (n - 1) for lo, hi in box], size


def formula_warning(c):
    """A sentence if the config's formula is valid but a poor target on its domain (None if it is fine): a pole
    (1/x on [-pi, pi]: the check grid only just misses x = 0) or values so large that the loss means nothing."""
    if c.get("task") not in ("function", "surface") or c.get("data") is not None:
        return None
    names = ("x",) if c["task"] == "function" else ("x", "y")
    box = [(c[f"{n}_min"], c[f"{n}_max"]) for n in names]
    try:
        formula = parse_formula(c["formula"], names)
        top, point, steps, size = _peak(formula, box, 4001 if len(names) == 1 else 161)
        # look closer around the largest value: near a pole it keeps growing, at a steep but finite peak it stops
        near = [(max(lo, p - h), min(hi, p + h)) for (lo, hi), p, h in zip(box, point, steps)]
        closer = _peak(formula, near, 2001 if len(names) == 1 else 201)[0]
        typical = float(np.percentile(size[np.isfinite(size)], 90)) if np.isfinite(size).any() else 0.0
    except FormulaError:
        return None
    where = ", ".join(f"{n} = {p:.3g}" for n, p in zip(names, point))
    text = c["formula"].strip()
    # a pole: the values keep growing closer in, or one spike towers over the rest (a grid point sits on it)
    if not np.isfinite(top) or closer > 1.5 * top or (top > HUGE and top > 1000 * typical):
        return (f"{text} has a pole near {where} (its values grow without bound there): no network can fit that, "
                "and the loss will stay huge. Choose a domain that avoids it.")
    if top > HUGE:
        return (f"{text} reaches {top:.3g} on this domain (at {where}): values that large are hard to fit and the "
                "loss will look enormous. A smaller domain or a scaled formula trains better.")
    return None


def _cross_checks(c, errors):
    """Constraints between fields (domain order, total work, architecture/task fit)."""
    out = {}
    for lo, hi in (("x_min", "x_max"), ("y_min", "y_max")):
        if lo in c and hi in c and c[lo] >= c[hi]:
            out[hi] = f"must be greater than “{FIELDS[lo]['label']}” ({c[lo]:g})"
    if "formula" in c and c.get("data") is None and not {"formula", "x_min", "x_max", "y_min", "y_max"} & (errors.keys() | out.keys()):
        try:
            check_formula(c)
        except FormulaError as exc:
            out["formula"] = str(exc)
    if c.get("task") == "mnist" and c.get("model") == "cnn" and not c.get("conv_channels"):
        out["conv_channels"] = "a CNN needs at least one conv block"
    if c.get("batch_norm") and c.get("hidden") and c.get("batch_size") == 1:
        out["batch_size"] = "batch norm needs at least 2 samples per batch (or no hidden layer)"
    if {"n_samples", "batch_size", "epochs"} <= c.keys() and "val_fraction" not in errors:
        steps = c["epochs"] * batches_per_epoch(training_size(c), c["batch_size"])
        if steps > MAX_STEPS:
            out["epochs"] = (f"this would run {steps:,} steps; the limit is {MAX_STEPS:,}: "
                             "use fewer epochs or a larger batch size")
    return out
