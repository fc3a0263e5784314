"""Seeded two-class datasets for decision-boundary demos: moons, spiral, circles, xor in the plane; spheres in 3-D."""
import math
import numbers

import numpy as np

__all__ = ["two_moons", "spiral", "circles", "xor", "spheres", "make_classification", "make_classification_2d",
           "n_features", "CLASSIFICATION_KINDS"]


def _check(n_samples, noise):
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < 2:
        raise ValueError(f"n_samples must be an integer >= 2, got {n_samples!r}")
    try:
        noise = float(noise)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}") from exc
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    n_samples = int(n_samples)
    return noise, n_samples // 2, n_samples - n_samples // 2


def _finish(rng, parts, noise):
    """Stack the per-class point arrays, add N(0, noise^2) jitter, shuffle; float32 x (n, d), int64 labels (n,)."""
    x = np.concatenate(parts)
    y = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(parts)])
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order]


def two_moons(n_samples=400, noise=0.1, seed=0):
    """Two interleaved half circles of radius 1 (class 0 upper, class 1 lower), centred on the origin."""
    noise, n0, n1 = _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    t0, t1 = np.linspace(0, math.pi, n0), np.linspace(0, math.pi, n1)
    upper = np.column_stack([np.cos(t0) - 0.5, np.sin(t0) - 0.25])
    lower = np.column_stack([0.5 - np.cos(t1), 0.25 - np.sin(t1)])
    return _finish(rng, [upper, lower], noise)


def spiral(n_samples=400, noise=0.1, seed=0, turns=1.5):
    """Two interleaved spiral arms (the second the first turned by pi), radius growing from 0.05 to 1."""
    noise, n0, n1 = _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    parts = []
    for k, m in enumerate((n0, n1)):
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * math.pi * turns * r + k * math.pi
        parts.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    return _finish(rng, parts, noise)


def circles(n_samples=400, noise=0.1, seed=0, factor=0.5):
    """Two concentric circles: class 0 radius 1, class 1 radius `factor` (0 < factor < 1)."""
    noise, n0, n1 = _check(n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    t0 = np.linspace(0, 2 * math.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * math.pi, n1, endpoint=False)
    outer = np.column_stack([np.cos(t0), np.sin(t0)])
    inner = factor * np.column_stack([np.cos(t1), np.sin(t1)])
    return _finish(rng, [outer, inner], noise)


def xor(n_samples=400, noise=0.1, seed=0):
    """Points in [-1, 1]^2: class 0 where x*y > 0 (1st/3rd quadrants), class 1 where x*y < 0, before the jitter."""
    noise, n0, n1 = _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    parts = []
    for k, m in enumerate((n0, n1)):
        mag = rng.uniform(0.05, 1.0, (m, 2))  # keep clear of the axes so noise=0 labels are unambiguous
        sx = rng.choice([-1.0, 1.0], m)
        sy = sx if k == 0 else -sx
        parts.append(mag * np.column_stack([sx, sy]))
    return _finish(rng, parts, noise)


def spheres(n_samples=400, noise=0.1, seed=0, spread=0.5):
    """Two 3-D Gaussian spheres: class 0 around (-0.6, -0.6, -0.6), class 1 around (0.6, 0.6, 0.6), each of
    standard deviation `spread` along every axis (centres 2.1 apart: about 2 % of the points fall on the other
    side of the plane between them); `noise` adds to the spread like the jitter of the other sets."""
    noise, n0, n1 = _check(n_samples, noise)
    rng = np.random.default_rng(seed)
    centre = np.full(3, 0.6)
    parts = [c + spread * rng.standard_normal((m, 3)) for c, m in ((-centre, n0), (centre, n1))]
    return _finish(rng, parts, noise)


_KINDS = {"moons": two_moons, "spiral": spiral, "circles": circles, "xor": xor, "spheres": spheres}
_FEATURES = {"spheres": 3}
CLASSIFICATION_KINDS = tuple(_KINDS)


def n_features(kind):
    """How many input features the points of a kind have: 2 (in the plane), or 3 for spheres."""
    return _FEATURES.get(kind, 2)


def make_classification(kind, n_samples=400, noise=0.1, seed=0):
    """x float32 (n, n_features(kind)), labels int64 (n,) of a balanced two-class set; kind in CLASSIFICATION_KINDS."""
    try:
        make = _KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(CLASSIFICATION_KINDS)}") from None
    return make(n_samples, noise, seed)


make_classification_2d = make_classification  # its first name, from when every set lay in the plane
