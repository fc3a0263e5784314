"""Regression datasets from a formula: y = f(x) on an interval, z = f(x, y) on a rectangle; seeded noise and split."""
import math
import numbers

import numpy as np

from .._state import resolve_dtype
from .loader import holdout_size

__all__ = ["FunctionDataset", "SurfaceDataset", "as_formula"]

_SAMPLING = ("uniform", "grid")


def _formula_error_class():
    """bpnet.formula.FormulaError once that module exists, ValueError until then."""
    try:
        from ..formula import FormulaError
    except ImportError:
        return ValueError
    return FormulaError


def as_formula(formula, variables=("x",)):
    """(callable, display name) from a formula string (parsed by bpnet.formula.parse_formula) or any callable."""
    if isinstance(formula, str):
        try:
            from ..formula import parse_formula
        except ImportError as exc:
            raise ImportError("formula strings need bpnet.formula, which is not available; pass a callable") from exc
        return parse_formula(formula, variables=tuple(variables)), formula.strip()
    if callable(formula):
        return formula, getattr(formula, "text", None) or getattr(formula, "__name__", None) or repr(formula)
    raise TypeError(f"formula must be a string or a callable, got {type(formula).__name__}")


def _evaluate(fn, name, args, where, dtype=np.float64):
    """fn(*args) as a float64 array shaped like args[0]; FormulaError (a ValueError) naming a point where it is
    not finite (or overflows `dtype`)."""
    with np.errstate(all="ignore"):
        out = fn(*args)
    try:
        out = np.asarray(out, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise _formula_error_class()(f"the formula {name} did not return numbers: {exc}") from exc
    try:
        out = np.broadcast_to(out, args[0].shape)  # a constant formula returns a scalar
    except ValueError as exc:
        raise _formula_error_class()(f"the formula {name} returned shape {out.shape}, "
                                     f"expected {args[0].shape}") from exc
    bad = ~np.isfinite(out)
    too_big = ~bad & (np.abs(out) > np.finfo(dtype).max)
    for mask, problem in ((bad, "is not finite"), (too_big, f"overflows {np.dtype(dtype).name}")):
        if mask.any():
            i = int(np.flatnonzero(mask.ravel())[0])
            at = ", ".join(f"{v}={float(a.ravel()[i]):.4g}" for v, a in zip("xy", args))
            raise _formula_error_class()(f"the formula {name} {problem} on {where} (e.g. at {at})")
    return np.array(out, dtype=np.float64)


def _check_interval(interval, what):
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be a pair (low, high) of numbers, got {interval!r}") from exc
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{what} must be finite with low < high, got ({lo}, {hi})")
    return lo, hi


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _fmt(v):
    return f"{v:.4g}"


class _FormulaDataset:
    """Shared sampling, noise, split and validation; subclasses set the input dimension."""

    _variables = ("x",)

    def _setup(self, formula, n_samples, noise, val_fraction, seed, dtype):
        self.n_samples = _check_int(n_samples, "n_samples", 2)
        try:
            noise = float(noise)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"noise must be a number >= 0, got {noise!r}") from exc
        if not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        try:
            val_fraction = float(val_fraction)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"val_fraction must be a number in (0, 1), got {val_fraction!r}") from exc
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
        self.noise, self.val_fraction, self.seed = noise, val_fraction, seed
        self.dtype = resolve_dtype(dtype)
        self.fn, self.name = as_formula(formula, self._variables)
        self._rng = np.random.default_rng(seed)

    def _finish(self, inputs, where):
        """Targets = f(inputs) + noise, then a seeded disjoint split; the noise draw never moves the inputs."""
        clean = _evaluate(self.fn, self.name, tuple(inputs.T), where, self.dtype)
        noisy = clean + self.noise * self._rng.standard_normal(len(clean))
        n_val = holdout_size(self.n_samples, self.val_fraction)
        order = self._rng.permutation(self.n_samples)
        self.val_index, self.train_index = np.sort(order[:n_val]), np.sort(order[n_val:])
        self.x = inputs.astype(self.dtype)
        self.y = noisy.reshape(-1, 1).astype(self.dtype)
        self.x_train, self.y_train = self.x[self.train_index], self.y[self.train_index]
        self.x_val, self.y_val = self.x[self.val_index], self.y[self.val_index]


class FunctionDataset(_FormulaDataset):
    """y = f(x) + N(0, noise^2) on `domain`; x_train, y_train, x_val, y_val shaped (n, 1), split disjoint and seeded."""

    def __init__(self, formula, domain=(-math.pi, math.pi), n_samples=200, noise=0.0, val_fraction=0.2, seed=0,
                 sampling="uniform", dtype=np.float32):
        self.domain = _check_interval(domain, "domain")
        if sampling not in _SAMPLING:
            raise ValueError(f"sampling must be one of {_SAMPLING}, got {sampling!r}")
        self.sampling = sampling
        self._setup(formula, n_samples, noise, val_fraction, seed, dtype)
        lo, hi = self.domain
        if sampling == "uniform":
            x = self._rng.uniform(lo, hi, self.n_samples)
        else:
            x = np.linspace(lo, hi, self.n_samples)
        self._finish(x.reshape(-1, 1), self._where())

    def _where(self):
        return f"[{_fmt(self.domain[0])}, {_fmt(self.domain[1])}]"

    def grid(self, n=200):
        """(x_grid (n, 1), y_true (n, 1)): the clean target on n evenly spaced points of the domain, for plotting."""
        n = _check_int(n, "n", 2)
        x = np.linspace(*self.domain, n)
        y = _evaluate(self.fn, self.name, (x,), self._where(), self.dtype)
        return x.reshape(-1, 1).astype(self.dtype), y.reshape(-1, 1).astype(self.dtype)

    def __repr__(self):
        return (f"FunctionDataset({self.name!r}, domain={self.domain}, n_samples={self.n_samples}, "
                f"noise={self.noise}, sampling={self.sampling!r})")


class SurfaceDataset(_FormulaDataset):
    """z = f(x, y) + N(0, noise^2) on a rectangle; inputs (n, 2) uniform, targets (n, 1); seeded disjoint split."""

    _variables = ("x", "y")

    def __init__(self, formula, domain=((-2.0, 2.0), (-2.0, 2.0)), n_samples=1000, noise=0.0, val_fraction=0.2,
                 seed=0, dtype=np.float32):
        try:
            dx, dy = domain
        except (TypeError, ValueError) as exc:
            raise ValueError(f"domain must be ((x_low, x_high), (y_low, y_high)), got {domain!r}") from exc
        self.domain = (_check_interval(dx, "x domain"), _check_interval(dy, "y domain"))
        self._setup(formula, n_samples, noise, val_fraction, seed, dtype)
        (x0, x1), (y0, y1) = self.domain
        inputs = np.column_stack([self._rng.uniform(x0, x1, self.n_samples), self._rng.uniform(y0, y1, self.n_samples)])
        self._finish(inputs, self._where())

    def _where(self):
        (x0, x1), (y0, y1) = self.domain
        return f"[{_fmt(x0)}, {_fmt(x1)}] x [{_fmt(y0)}, {_fmt(y1)}]"

    def grid(self, n=40, m=None):
        """(xs (n,), ys (m,), inputs (m*n, 2), z_true (m, n)); m defaults to n.

        Rows of z_true follow ys and columns follow xs, as Plotly's go.Surface(x=xs, y=ys, z=z) expects;
        inputs are in the same row-major order, so model(inputs).reshape(m, n) lines up with z_true.
        """
        n = _check_int(n, "n", 2)
        m = n if m is None else _check_int(m, "m", 2)
        xs, ys = np.linspace(*self.domain[0], n), np.linspace(*self.domain[1], m)
        gx, gy = np.meshgrid(xs, ys)  # (m, n), gx[i, j] = xs[j], gy[i, j] = ys[i]
        inputs = np.column_stack([gx.ravel(), gy.ravel()])
        z = _evaluate(self.fn, self.name, (inputs[:, 0], inputs[:, 1]), self._where(), self.dtype).reshape(m, n)
        return xs.astype(self.dtype), ys.astype(self.dtype), inputs.astype(self.dtype), z.astype(self.dtype)

    def __repr__(self):
        return f"SurfaceDataset({self.name!r}, domain={self.domain}, n_samples={self.n_samples}, noise={self.noise})"
