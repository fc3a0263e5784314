"""A trained model that travels: one .npz with the weights and everything needed to use them.

The file is a plain .npz whose arrays are the model's state_dict (keys as PyTorch names them, so
`model.load_state_dict(np.load(f))` and torch's `load_state_dict` take it as it is); its zip comment holds a JSON
description beside them: the config (task, layers, activation, ...), the input shape, the layers in order and
the input normalisation fitted on the training data. `read` (bpnet.load) turns such a file back into a
SavedModel that gives the outputs the job gave. A file is hostile until read: size limits, a zip, no pickles
(np.load(allow_pickle=False)), the described network's exact keys and shapes, finite numbers; every problem is
a ModelFileError saying what is wrong.
"""
import io
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from ..data import n_features
from .config import ConfigError, validate_config
from .models import architecture, build_model
from .tasks import TASK_CLASSES, normalize, outputs

__all__ = ["SavedModel", "ModelFileError", "pack", "read", "describe", "check_continuation", "NETWORK_FIELDS", "MAX_MODEL_BYTES", "FORMAT", "VERSION"]

FORMAT, VERSION = "bpnet-model", 1
MAX_MODEL_BYTES = 32 * 1024 * 1024  # the largest file read (the MNIST CNN at its defaults is about 3.5 MB)
MAX_COMMENT = 65535  # a zip comment's limit
MB = 1024 * 1024


# the settings that make the network (its shape, its function, what its inputs mean): kept by a continued run
NETWORK_FIELDS = ("task", "dataset", "model", "conv_channels", "hidden", "batch_norm", "activation",
                  "normalize_inputs")


def check_continuation(saved, config):
    """ConfigError naming each setting of `config` that would change the saved model's network."""
    errors = {}
    for name in NETWORK_FIELDS:
        ours, theirs = config.get(name), saved.config.get(name)
        if ours != theirs:
            shown = ", ".join(map(str, theirs)) if isinstance(theirs, list) else theirs
            errors[name] = (f"the model being trained on has {name} {shown}: a continued run keeps its network "
                            "(untick Continue to start afresh)")
    if errors:
        raise ConfigError(errors)


class ModelFileError(ValueError):
    """A model file that cannot be used, with a message for the person who gave it."""


def task_shape(config):
    """(input shape per sample, output count) of the network a config's task trains."""
    cls = TASK_CLASSES[config["task"]]
    if config["task"] == "classification":
        return (n_features(config["dataset"]),), cls.out_features
    return tuple(cls.in_shape), cls.out_features


def input_names(task, in_shape):
    if task == "function":
        return ["x"]
    if task == "surface":
        return ["x", "y"]
    if task == "mnist":
        return [f"pixel{i}" for i in range(int(np.prod(in_shape)))]
    return [f"x{i + 1}" for i in range(in_shape[0])]


def output_names(task, out_features):
    if task == "function":
        return ["y"]
    if task == "surface":
        return ["z"]
    return [f"p{k}" for k in range(out_features)]  # class probabilities


def describe(config, task):
    """The JSON description a saved model carries, for a trainer's config and task."""
    in_shape, out = list(task.in_shape), task.out_features
    return {"format": FORMAT, "version": VERSION, "config": config, "in_shape": in_shape, "out_features": out,
            "layers": [kind for kind, _, _ in architecture(config, in_shape, out)],
            "activation": config["activation"], "normalization": task.input_normalization(),
            "inputs": input_names(config["task"], in_shape), "outputs": output_names(config["task"], out),
            "output_kind": "probabilities" if TASK_CLASSES[config["task"]].classifier else "values"}


def pack(state, description):
    """The .npz bytes of a state_dict with its description in the zip comment."""
    buf = io.BytesIO()
    np.savez(buf, **state)
    comment = json.dumps(description, allow_nan=False, separators=(",", ":")).encode()
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"the model's description is {len(comment)} bytes, more than a zip comment holds")
    with zipfile.ZipFile(buf, "a") as z:
        z.comment = comment
    return buf.getvalue()


class SavedModel:
    """A model read from a file: `predict(x)` takes raw inputs (one row per sample, columns as `inputs`:
    x; x, y; x1, x2[, x3]; or MNIST's 784 grey levels in [0, 1]) and gives class probabilities (classifiers)
    or values, as the job that trained it did. `model` is the nn.Sequential (eval mode), `config` its settings."""

    def __init__(self, description, model, npz):
        self.description, self.model, self._npz = description, model, npz
        self.config = description["config"]
        self.task = self.config["task"]
        self.in_shape, self.out_features = tuple(description["in_shape"]), description["out_features"]
        self.normalization = description["normalization"]
        self.inputs, self.outputs = description["inputs"], description["outputs"]
        self.classifier = description["output_kind"] == "probabilities"

    def __repr__(self):
        return f"SavedModel(task={self.task!r}, inputs={len(self.inputs)}, outputs={self.outputs!r})\n{self.model!r}"

    def state_dict(self):
        return self.model.state_dict()

    def npz(self):
        """The file's bytes, as read."""
        return self._npz

    def model_inputs(self, x):
        """What the network is fed for raw inputs x (rows of `inputs`): checked, shaped, normalised."""
        x = np.asarray(x, dtype=np.float32)
        width = len(self.inputs)
        if x.ndim == 1 and x.size == width:
            x = x[None]
        if x.ndim < 2 or int(np.prod(x.shape[1:])) != width:
            raise ValueError(f"expected rows of {width} input{'s' if width > 1 else ''} "
                             f"({self._input_text()}), got an array of shape {x.shape}")
        if len(x) == 0:
            raise ValueError("no inputs: give at least one row")
        if not np.isfinite(x).all():
            raise ValueError("the inputs must be finite numbers (no NaN or infinity)")
        x = x.reshape((len(x),) + self.in_shape)
        if self.task == "mnist" and (x.min(initial=0) < 0 or x.max(initial=0) > 1):
            raise ValueError("MNIST inputs are grey levels from 0 (black) to 1 (white); for 0-255 pixels divide "
                             "by 255")
        return normalize(self.normalization, x)

    def predict(self, x):
        """Outputs (N, len(outputs)) for raw inputs x."""
        return outputs(self.model, self.config, self.model_inputs(x))

    __call__ = predict

    def _input_text(self):
        return "784 grey levels" if self.task == "mnist" else ", ".join(self.inputs)


def _bytes_of(source):
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    path = Path(source)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if size > MAX_MODEL_BYTES:
        raise ModelFileError(f"{path.name} is {size / MB:.1f} MB: a model file may be at most "
                             f"{MAX_MODEL_BYTES // MB} MB")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _description(z):
    if not z.comment:
        raise ModelFileError("this .npz holds arrays but no bpnet description (it was not saved by bpnet's model "
                             "download or `bpnet train --save-model`, or by an older bpnet): it cannot be used "
                             "without its settings")
    try:
        d = json.loads(z.comment.decode())
    except (UnicodeDecodeError, ValueError):
        raise ModelFileError("the file's bpnet description is not valid JSON") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ModelFileError("the file's description is not a bpnet model's")
    if d.get("version") != VERSION:
        raise ModelFileError(f"the file is a bpnet model of version {str(d.get('version'))[:10]}; this bpnet "
                             f"reads version {VERSION}")
    try:
        d["config"] = validate_config(d.get("config"))
    except ConfigError as exc:
        problems = "; ".join(f"{k}: {v}" for k, v in list(exc.errors.items())[:5])
        raise ModelFileError(f"the model's settings are not valid: {problems}") from None
    shape, out = d.get("in_shape"), d.get("out_features")
    expected = task_shape(d["config"])
    if shape != list(expected[0]) or out != expected[1]:
        raise ModelFileError(f"the model's input shape or output count ({str(shape)[:40]}, {str(out)[:10]}) is not "
                             f"its task's ({list(expected[0])}, {expected[1]})")
    _check_normalization(d.get("normalization"), shape)
    task = d["config"]["task"]
    d["inputs"], d["outputs"] = input_names(task, shape), output_names(task, out)
    d["output_kind"] = "probabilities" if TASK_CLASSES[task].classifier else "values"
    return d


def _check_normalization(spec, in_shape):
    bad = ModelFileError("the model's input normalisation is not valid")
    if not isinstance(spec, dict) or spec.get("kind") not in ("none", "scale", "standardize"):
        raise bad
    if spec["kind"] == "none":
        return
    if spec.get("dtype") not in ("float32", "float64"):
        raise bad
    finite = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)  # noqa: E731
    if spec["kind"] == "scale":
        if not finite(spec.get("factor")) or spec["factor"] <= 0:
            raise bad
        return
    width = 1 if len(in_shape) == 3 else in_shape[0]
    mean, std = spec.get("mean"), spec.get("std")
    if not all(isinstance(v, list) and len(v) == width and all(map(finite, v)) for v in (mean, std)) or \
            min(std) <= 0:
        raise bad


def _arrays(z, blob):
    total = sum(info.file_size for info in z.infolist())
    if total > 4 * MAX_MODEL_BYTES:  # a small zip that unpacks into gigabytes
        raise ModelFileError(f"the file unpacks into {total / MB:.0f} MB: a model may hold at most "
                             f"{4 * MAX_MODEL_BYTES // MB} MB of arrays")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise ModelFileError("the file holds pickled Python objects, which are never loaded (they could run "
                                 "code): a model file holds numeric arrays only") from None
        raise ModelFileError(f"an array in the file cannot be read: {str(exc)[:120]}") from None


def _load_weights(model, arrays):
    targets = model.state_dict()
    missing = [k for k in targets if k not in arrays]
    unexpected = [k for k in arrays if k not in targets]
    if missing or unexpected:
        said = [f"missing {', '.join(missing[:6])}" if missing else "", f"unexpected {', '.join(unexpected[:6])}"
                if unexpected else ""]
        raise ModelFileError("the weights do not match the network the settings describe: "
                             + "; ".join(s for s in said if s))
    for name, target in targets.items():
        value = arrays[name]
        if value.shape != target.shape:
            raise ModelFileError(f"the weights do not match the network the settings describe: {name} has shape "
                                 f"{value.shape}, the network's is {target.shape}")
        if value.dtype.kind not in "fiu" or (value.dtype.kind == "f" and not np.isfinite(value).all()):
            raise ModelFileError(f"{name} is not finite numbers")
    model.load_state_dict(arrays)


def read(source):
    """The SavedModel in a .npz (bytes or a path); ModelFileError says why a file cannot be used."""
    blob = _bytes_of(source)
    if len(blob) > MAX_MODEL_BYTES:
        raise ModelFileError(f"the file is {len(blob) / MB:.1f} MB: a model file may be at most "
                             f"{MAX_MODEL_BYTES // MB} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as z:
            description = _description(z)
            arrays = _arrays(z, blob)
    except zipfile.BadZipFile:
        raise ModelFileError("this is not a .npz model file (a .npz is a zip archive of arrays; save one with "
                             "the dashboard's Download model or `bpnet train --save-model`)") from None
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged zip fails in many ways (versions, CRCs, names, zlib)
        raise ModelFileError(f"the file is damaged: {type(exc).__name__}: {str(exc)[:100]}") from None
    config = description["config"]
    model = build_model(config, tuple(description["in_shape"]), description["out_features"],
                        np.random.default_rng(0))
    _load_weights(model, arrays)
    model.eval()
    return SavedModel(description, model, blob)
