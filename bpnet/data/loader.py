"""Mini-batching, a seeded train/test split and a standardiser fitted on training data only."""
import math
import numbers

import numpy as np

from .._state import default_generator

__all__ = ["DataLoader", "train_test_split", "holdout_size", "Standardizer"]


class DataLoader:
    """Iterate over (x, y) mini-batches; re-iterable, reshuffled every epoch when shuffle=True."""

    def __init__(self, x, y=None, batch_size=32, shuffle=False, drop_last=False, seed=None):
        self.x = np.asarray(x)
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(f"x and y differ in length: {len(self.x)} vs {len(self.y)}")
        if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self._rng = np.random.default_rng(seed) if seed is not None else None  # None: the global generator

    def __len__(self):
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n, bs = len(self.x), self.batch_size
        order = (self._rng or default_generator()).permutation(n) if self.shuffle else None
        for start in range(0, len(self) * bs, bs):
            if order is None:
                sl = slice(start, min(start + bs, n))
            else:
                sl = order[start:start + bs]
            yield self.x[sl] if self.y is None else (self.x[sl], self.y[sl])


def holdout_size(n, fraction):
    """How many of n samples a fraction in (0, 1) holds out for validation or test: fraction * n rounded half
    up, and at least 1 and at most n - 1 so that neither part is empty. The one rule every split in bpnet uses
    (datasets, tasks, the config's step count)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"a split needs at least 2 samples, got {n!r}")
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real) or not 0 < fraction < 1:
        raise ValueError(f"the held-out fraction must be a number in (0, 1), got {fraction!r}")
    return min(max(math.floor(float(fraction) * int(n) + 0.5), 1), int(n) - 1)


def train_test_split(x, y=None, test_size=0.2, seed=None, shuffle=True):
    """Split once into disjoint parts: x_train, x_test[, y_train, y_test] (sklearn's order).

    test_size: a fraction in (0, 1) (any real number type; see holdout_size) or a count of test samples.
    seed: an int or a numpy Generator; None draws from the global generator (see bpnet.manual_seed).
    """
    x = np.asarray(x)
    n = len(x)
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = int(test_size)
        if not 0 < n_test < n:
            raise ValueError(f"test_size={test_size} leaves an empty part of {n} samples")
    elif isinstance(test_size, numbers.Real) and not isinstance(test_size, bool) and 0 < test_size < 1:
        n_test = holdout_size(n, test_size)
    else:
        raise ValueError(f"test_size must be a fraction in (0, 1) or a count of samples in (0, {n}), "
                         f"got {test_size!r}")
    order = default_generator(seed).permutation(n) if shuffle else np.arange(n)
    test, train = order[:n_test], order[n_test:]
    if y is None:
        return x[train], x[test]
    y = np.asarray(y)
    if len(y) != n:
        raise ValueError(f"x and y differ in length: {n} vs {len(y)}")
    return x[train], x[test], y[train], y[test]


class Standardizer:
    """(x - mean) / std with statistics from the data passed to fit (the training set); axis=None for one scalar."""

    def __init__(self, axis=0, eps=1e-8):
        self.axis, self.eps = axis, eps
        self.mean = self.std = None

    def fit(self, x):
        x = np.asarray(x, dtype=np.float64)
        self.mean = x.mean(axis=self.axis, keepdims=self.axis is not None)
        std = x.std(axis=self.axis, keepdims=self.axis is not None)
        self.std = np.where(std < self.eps, 1.0, std)  # constant features: leave them centred, unscaled
        return self

    def _check(self):
        if self.mean is None:
            raise RuntimeError("Standardizer.fit must be called before transform")

    def transform(self, x):
        self._check()
        x = np.asarray(x)
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float32
        return ((x - self.mean) / self.std).astype(dtype, copy=False)

    def fit_transform(self, x):
        return self.fit(x).transform(x)

    def inverse_transform(self, z):
        self._check()
        z = np.asarray(z)
        return (z * self.std + self.mean).astype(z.dtype, copy=False)
