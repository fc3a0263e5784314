"""What each experiment trains on and how it is pictured: data, loss, metrics, snapshots."""
import functools

import numpy as np

from .. import nn
from . import user_data
from ..data import (FunctionDataset, Standardizer, SurfaceDataset, holdout_size, make_classification, mnist_splits,
                    n_features)
from ..formula import FormulaError
from ..grad_mode import no_grad
from .config import ConfigError

__all__ = ["make_task", "predict", "softmax", "mnist_inputs", "digit_inputs", "outputs", "normalize", "TASK_CLASSES"]

EVAL_BATCH = 1000


def softmax(logits):
    """Row-wise probabilities from logits (N, C), stable for any finite logits."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def predict(model, x, batch=EVAL_BATCH):
    """Outputs of the model in eval mode for all of x, in batches, under no_grad() (the layers keep nothing
    for backward: no caches the size of the whole set); restores the previous mode."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return np.concatenate([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    finally:
        model.train(was_training)


class _Task:
    """Subclasses set x_train, y_train, x_val, y_val, in_shape, out_features, criterion."""

    classifier = False

    @classmethod
    def input_shape(cls, config):
        """The shape of one input sample of a run with this config (budget.py reads it before any data exists)."""
        return cls.in_shape

    def evaluate(self, model, x, y):
        """(loss, accuracy or None, outputs) of the model on x, y in eval mode, under no_grad()."""
        out = predict(model, x)
        with no_grad():
            loss = type(self.criterion)()(out, y)  # a fresh criterion: the training one keeps its gradient
        acc = float(np.mean(out.argmax(axis=1) == y)) if self.classifier else None
        return loss, acc, out

    def baseline(self):
        """What guessing scores on the validation set, the yardstick of a run's verdict and of the chance line:
        {"loss"} of a constant prediction (regression: the training targets' mean, so the loss is about the
        targets' variance; classifiers: the training set's class shares), and for classifiers the "accuracy"
        of chance, always naming the same class (the best such guess: the validation set's largest class); "floor": the loss a perfect fit still has (the noise's variance),
        where it is known."""
        y_train, y_val = np.asarray(self.y_train), np.asarray(self.y_val)
        if not self.classifier:
            noise = self.config.get("noise", 0.0)
            own = self.config.get("data") is not None  # one's own data: its noise is not known
            return {"loss": float(np.mean((y_val - y_train.mean(axis=0)) ** 2)),
                    "floor": None if own else float(noise) ** 2}
        shares = np.bincount(y_train, minlength=self.out_features) / len(y_train)
        with np.errstate(divide="ignore"):
            loss = float(-np.mean(np.log(shares[y_val])))
        return {"loss": loss, "accuracy": float(np.bincount(y_val).max() / len(y_val))}

    def _standardize(self, *arrays):
        if not self.config["normalize_inputs"]:
            return arrays
        given = getattr(self, "given_normalization", None)
        if given is not None and given["kind"] == "standardize":  # a model continued: the statistics it learnt with
            self.scaler = Standardizer()
            self.scaler.mean, self.scaler.std = (np.asarray(given[k], np.float64).reshape(1, -1) for k in ("mean", "std"))
        else:
            self.scaler = Standardizer().fit(self.x_train_raw)
        return tuple(self.scaler.transform(a) for a in arrays)

    def input_normalization(self):
        """How raw inputs become the model's inputs, as JSON (see normalize): what a saved model carries."""
        if not self.config["normalize_inputs"]:
            return {"kind": "none"}
        return {"kind": "standardize", "mean": self.scaler.mean.ravel().tolist(), "std": self.scaler.std.ravel().tolist(),
                "dtype": "float64"}


class OwnData:
    """One's own points as the formula datasets give theirs: x_train, y_train, x_val, y_val (n, k) and (n, 1),
    split at random (seeded) as they are; grid() spans the inputs' range, with no target (None) to draw."""

    def __init__(self, config, dtype):
        x, y = user_data.shuffled(config["data"], config["seed"])
        n_val = holdout_size(len(x), config["val_fraction"])
        x, y = x.astype(dtype), y.reshape(-1, 1).astype(dtype)
        self.x_train, self.y_train, self.x_val, self.y_val = x[n_val:], y[n_val:], x[:n_val], y[:n_val]
        self.box = [(config["x_min"], config["x_max"]), (config.get("y_min"), config.get("y_max"))][:x.shape[1]]
        self.dtype = dtype

    def grid(self, n=200):
        axes = [np.linspace(lo, hi, n) for lo, hi in self.box]
        if len(axes) == 1:
            return axes[0].reshape(-1, 1).astype(self.dtype), None
        gx, gy = np.meshgrid(*axes)  # rows follow y, as SurfaceDataset.grid
        inputs = np.column_stack([gx.ravel(), gy.ravel()]).astype(self.dtype)
        return axes[0].astype(self.dtype), axes[1].astype(self.dtype), inputs, None


class FunctionTask(_Task):
    """y = f(x) on an interval; MSE; snapshot: the fitted curve on a grid."""

    in_shape, out_features = (1,), 1

    def __init__(self, config, dtype):
        self.config = c = config
        ds = (OwnData(c, dtype) if c["data"] is not None else
              FunctionDataset(c["formula"], (c["x_min"], c["x_max"]), c["n_samples"], c["noise"], c["val_fraction"],
                              c["seed"], dtype=dtype))
        self.data = ds
        self.x_train_raw = ds.x_train
        self.grid_raw, self.y_grid = ds.grid(200)
        self.x_train, self.x_val, self.grid = self._standardize(ds.x_train, ds.x_val, self.grid_raw)
        self.y_train, self.y_val = ds.y_train, ds.y_val
        self.criterion = nn.MSELoss()

    def dataset_event(self):
        d = self.data
        return {"x_train": d.x_train[:, 0], "y_train": d.y_train[:, 0], "x_val": d.x_val[:, 0],
                "y_val": d.y_val[:, 0], "x_grid": self.grid_raw[:, 0],
                "y_grid": None if self.y_grid is None else self.y_grid[:, 0]}

    def snapshot(self, model):
        return {"y_pred": predict(model, self.grid)[:, 0]}


class SurfaceTask(_Task):
    """z = f(x, y) on a rectangle; MSE; snapshot: the fitted surface on a 40x40 grid."""

    in_shape, out_features = (2,), 1
    SHOWN = 400  # training points drawn

    def __init__(self, config, dtype):
        self.config = c = config
        ds = (OwnData(c, dtype) if c["data"] is not None else
              SurfaceDataset(c["formula"], ((c["x_min"], c["x_max"]), (c["y_min"], c["y_max"])), c["n_samples"],
                             c["noise"], c["val_fraction"], c["seed"], dtype=dtype))
        self.data = ds
        self.x_train_raw = ds.x_train
        self.xs, self.ys, grid, self.z_true = ds.grid(40)
        self.x_train, self.x_val, self.grid = self._standardize(ds.x_train, ds.x_val, grid)
        self.y_train, self.y_val = ds.y_train, ds.y_val
        self.criterion = nn.MSELoss()

    def dataset_event(self):
        d = self.data
        return {"xs": self.xs, "ys": self.ys, "z_true": self.z_true,
                "train_points": np.hstack([d.x_train, d.y_train])[:self.SHOWN]}

    def snapshot(self, model):
        snap = {"z_pred": predict(model, self.grid)[:, 0].reshape(len(self.ys), len(self.xs))}
        if self.z_true is None:  # one's own points: no target surface, so the error is shown at the points
            snap["z_points"] = predict(model, self.x_train[:self.SHOWN])[:, 0]
        return snap


class ClassificationTask(_Task):
    """Two classes in the plane (or in 3-D: spheres); cross-entropy; snapshot: P(class 1) on a 60x60 grid over the
    first two features (the decision boundary), the third, if any, held at its mean (a slice through the cloud)."""

    classifier = True
    in_shape, out_features = (2,), 2

    @staticmethod
    def input_shape(config):
        """(features,) of the config's dataset: spheres have three; one's own data two (x1, x2)."""
        return (2,) if config.get("data") is not None else (n_features(config["dataset"]),)

    def __init__(self, config, dtype):
        self.config = c = config
        if c["data"] is not None:
            x, y = user_data.shuffled(c["data"], c["seed"])
            y = y.astype(np.int64)
        else:
            x, y = make_classification(c["dataset"], c["n_samples"], c["noise"], c["seed"])
        self.in_shape = self.input_shape(c)
        n_val = holdout_size(len(x), c["val_fraction"])
        self.points, self.labels = x, y
        self.x_train_raw, y_train, x_val, self.y_val = x[n_val:].astype(dtype), y[n_val:], x[:n_val].astype(dtype), y[:n_val]
        lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
        self.xs, self.ys = np.linspace(lo[0], hi[0], 60), np.linspace(lo[1], hi[1], 60)
        plane = np.stack(np.meshgrid(self.xs, self.ys), axis=-1).reshape(-1, 2)
        self.slice = [float(v) for v in self.x_train_raw[:, 2:].mean(axis=0)]  # the other features' values
        grid = np.hstack([plane, np.tile(self.slice, (len(plane), 1))]).astype(dtype)
        self.x_train, self.x_val, self.grid = self._standardize(self.x_train_raw, x_val, grid)
        self.y_train = y_train
        self.criterion = nn.CrossEntropyLoss()

    def dataset_event(self):
        return {"points": self.points, "labels": self.labels, "xs": self.xs, "ys": self.ys, "slice": self.slice}

    def snapshot(self, model):
        return {"p_grid": softmax(predict(model, self.grid))[:, 1].reshape(len(self.ys), len(self.xs))}


@functools.lru_cache(maxsize=2)
def _mnist(normalize_inputs):
    """MNIST splits shared read-only by every job of this process: (N, 1, 28, 28) float32."""
    s = mnist_splits(validation_size=10000, seed=0, normalize="unit", progress=False)
    arrays = []
    for a in s:
        if a.dtype == np.float32:
            a = mnist_inputs(a, normalize_inputs)
        a.flags.writeable = False
        arrays.append(a)
    return type(s)(*arrays)


@functools.lru_cache(maxsize=1)
def _mnist_train_stats():
    x = mnist_splits(validation_size=10000, seed=0, normalize="unit", progress=False).x_train
    return np.float32(x.mean()), np.float32(x.std())


def normalize(spec, x):
    """Model inputs from raw inputs x (float32) by a task's input_normalization(): (x - mean) / std computed in
    spec's dtype, or x * factor, as the task computes them; the result is float32."""
    if spec["kind"] == "none":
        return x
    dtype = np.dtype(spec["dtype"])
    if spec["kind"] == "scale":
        return (x * dtype.type(spec["factor"])).astype(np.float32, copy=False)
    mean, std = np.asarray(spec["mean"], dtype), np.asarray(spec["std"], dtype)
    if x.ndim > 2:  # images: one mean and std for every pixel
        mean, std = mean.reshape(()), std.reshape(())
    return ((x - mean) / std).astype(np.float32, copy=False)


def mnist_inputs(unit, normalize_inputs):
    """Model inputs from (N, 1, 28, 28) grey levels in [0, 1] (MNIST or a drawing), as an MNIST job feeds
    its model: standardised with the training set's statistics, or 0-255."""
    if not normalize_inputs:
        return unit * np.float32(255)
    mean, std = _mnist_train_stats()
    return (unit - mean) / std


@functools.lru_cache(maxsize=1)
def _mnist_validation_pixels():
    """The validation images as 0-255 grey levels (N, 28, 28) uint8, for display."""
    return mnist_splits(validation_size=10000, seed=0, normalize=None, progress=False).x_val.reshape(-1, 28, 28)


class MNISTTask(_Task):
    """Handwritten digits; cross-entropy; snapshot: predictions for random validation digits, confusion matrix."""

    classifier = True
    in_shape, out_features = (1, 28, 28), 10
    n_digits = 24

    def __init__(self, config, dtype):
        self.config = c = config
        s = _mnist(bool(c["normalize_inputs"]))
        n = c["n_samples"]
        self.x_train, self.y_train = s.x_train[:n], s.y_train[:n]
        self.x_val, self.y_val, self.x_test, self.y_test = s.x_val, s.y_val, s.x_test, s.y_test
        self.criterion = nn.CrossEntropyLoss()
        self.blank = float(mnist_inputs(np.float32(0.0), bool(c["normalize_inputs"])))  # a blank pixel, as fed
        self.subset = np.random.default_rng(c["seed"]).choice(len(self.x_val), c["val_subset"], replace=False)
        self._digit_rng = np.random.default_rng(c["seed"] + 1)  # pictures only: never touches training

    def input_normalization(self):
        """Pixels in [0, 1] standardised with the training set's statistics (float32), or scaled to 0-255."""
        if not self.config["normalize_inputs"]:
            return {"kind": "scale", "factor": 255.0, "dtype": "float32"}
        mean, std = _mnist_train_stats()
        return {"kind": "standardize", "mean": [float(mean)], "std": [float(std)], "dtype": "float32"}

    def dataset_event(self):
        return {"classes": list(range(10)), "train_size": len(self.x_train), "val_size": len(self.x_val)}

    def snapshot(self, model, outputs=None, indices=None):
        """Predictions for fresh random validation digits and the confusion matrix of the last evaluation."""
        pick = self._digit_rng.choice(len(self.x_val), self.n_digits, replace=False)
        p = softmax(predict(model, self.x_val[pick]))
        snap = {"digits": _mnist_validation_pixels()[pick], "digit_labels": self.y_val[pick],
                "pred": p.argmax(axis=1), "prob": p.max(axis=1)}
        if outputs is not None:
            snap["confusion"] = confusion_matrix(self.y_val[indices], outputs.argmax(axis=1), 10)
        return snap


def digit_inputs(pixels, config):
    """Model inputs (1, 1, 28, 28) for an MNIST run's model from 784 grey levels in [0, 1], row by row."""
    if config["task"] != "mnist":
        raise ValueError("digit predictions need an MNIST job")
    unit = np.clip(np.asarray(pixels, dtype=np.float32).reshape(1, 1, 28, 28), 0.0, 1.0)
    return mnist_inputs(unit, config["normalize_inputs"])


def outputs(model, config, x):
    """The model's outputs for x in eval mode: class probabilities for classifiers, values for regression."""
    out = predict(model, np.asarray(x, dtype=np.float32))
    return softmax(out) if TASK_CLASSES[config["task"]].classifier else out


def confusion_matrix(true, pred, k):
    """k x k counts, rows = true class, columns = predicted class."""
    return np.bincount(true * k + pred, minlength=k * k).reshape(k, k)


TASK_CLASSES = {"function": FunctionTask, "surface": SurfaceTask, "classification": ClassificationTask,
                "mnist": MNISTTask}


def make_task(config, dtype=np.float32, normalization=None):
    """The task for a validated config; data problems (e.g. a formula not finite at a sample) -> ConfigError.
    normalization: a saved model's input_normalization() to use instead of one fitted here (a model trained on)."""
    cls = TASK_CLASSES[config["task"]]
    task = cls.__new__(cls)
    task.given_normalization = normalization  # read by _standardize, inside __init__
    try:
        task.__init__(config, dtype)
        return task
    except FormulaError as exc:
        raise ConfigError({"formula": str(exc)}) from exc
