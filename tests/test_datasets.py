"""Formula datasets (FunctionDataset, SurfaceDataset) and the 2-D classification sets."""
import math

import numpy as np
import pytest

from bpnet.data.classification import (CLASSIFICATION_KINDS, circles, make_classification, make_classification_2d,
                                       n_features, spheres, spiral, two_moons, xor)
from bpnet.data.functions import FunctionDataset, SurfaceDataset


def cubic(x):
    return x ** 3 - 2 * x + 1


def saddle(x, y):
    return x ** 2 - 3 * y + x * y


# ----------------------------------------------------------------------------- FunctionDataset

def test_function_dataset_shapes_dtype_and_split_sizes():
    d = FunctionDataset(cubic, domain=(-2, 3), n_samples=100, val_fraction=0.25, seed=0)
    assert d.x_train.shape == d.y_train.shape == (75, 1)
    assert d.x_val.shape == d.y_val.shape == (25, 1)
    assert {a.dtype for a in (d.x_train, d.y_train, d.x_val, d.y_val)} == {np.dtype(np.float32)}
    assert d.x_train.min() >= -2 and d.x_train.max() <= 3 and d.x_val.min() >= -2 and d.x_val.max() <= 3
    d64 = FunctionDataset(cubic, n_samples=10, dtype=np.float64)
    assert d64.x_train.dtype == d64.y_val.dtype == np.float64


def test_noise_free_targets_are_exact():
    d = FunctionDataset(cubic, domain=(-2, 3), n_samples=50, noise=0.0, dtype=np.float64)
    np.testing.assert_array_equal(d.y_train, cubic(d.x_train))
    np.testing.assert_array_equal(d.y_val, cubic(d.x_val))
    d32 = FunctionDataset(cubic, domain=(-2, 3), n_samples=50, noise=0.0)
    np.testing.assert_allclose(d32.y_train, cubic(d32.x_train.astype(np.float64)), rtol=1e-5, atol=1e-5)


def test_noise_has_the_requested_std_and_leaves_inputs_alone():
    clean = FunctionDataset(np.sin, n_samples=4000, noise=0.0, seed=5, dtype=np.float64)
    noisy = FunctionDataset(np.sin, n_samples=4000, noise=0.1, seed=5, dtype=np.float64)
    np.testing.assert_array_equal(clean.x_train, noisy.x_train)
    residual = np.concatenate([noisy.y_train - np.sin(noisy.x_train), noisy.y_val - np.sin(noisy.x_val)])
    assert residual.std() == pytest.approx(0.1, rel=0.05)
    assert abs(residual.mean()) < 0.01


def test_same_seed_same_data_other_seed_other_data():
    a = FunctionDataset(np.cos, noise=0.2, seed=11)
    b = FunctionDataset(np.cos, noise=0.2, seed=11)
    c = FunctionDataset(np.cos, noise=0.2, seed=12)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.x_train, c.x_train)


def test_train_and_val_are_disjoint_and_cover_all_samples():
    d = FunctionDataset(cubic, n_samples=200, val_fraction=0.3, seed=2, dtype=np.float64)
    assert np.intersect1d(d.train_index, d.val_index).size == 0
    np.testing.assert_array_equal(np.union1d(d.train_index, d.val_index), np.arange(200))
    assert np.intersect1d(d.x_train.ravel(), d.x_val.ravel()).size == 0  # continuous x: no repeated points
    assert not np.array_equal(d.val_index, np.arange(140, 200))  # shuffled, not the last block


def test_grid_sampling_uses_evenly_spaced_points():
    d = FunctionDataset(cubic, domain=(0, 1), n_samples=11, sampling="grid", dtype=np.float64)
    np.testing.assert_allclose(np.sort(np.concatenate([d.x_train, d.x_val]).ravel()), np.linspace(0, 1, 11))
    u = FunctionDataset(cubic, domain=(0, 1), n_samples=11, sampling="uniform", dtype=np.float64)
    assert not np.allclose(np.sort(np.concatenate([u.x_train, u.x_val]).ravel()), np.linspace(0, 1, 11))


def test_grid_for_plotting_is_the_clean_target():
    d = FunctionDataset(cubic, domain=(-1, 2), n_samples=20, noise=0.5)
    xg, yg = d.grid(50)
    assert xg.shape == yg.shape == (50, 1) and xg.dtype == np.float32
    assert xg[0, 0] == -1 and xg[-1, 0] == 2 and np.all(np.diff(xg.ravel()) > 0)
    np.testing.assert_allclose(yg, cubic(np.linspace(-1, 2, 50)).reshape(-1, 1), rtol=1e-6, atol=1e-6)
    assert d.grid()[0].shape == (200, 1)


def test_constant_formula_is_broadcast():
    d = FunctionDataset(lambda x: 2.5, n_samples=10)
    assert d.y_train.shape == (8, 1) and np.all(d.y_train == 2.5)


@pytest.mark.parametrize("kwargs, match", [
    ({"domain": (1, 1)}, "domain"),
    ({"domain": (2, -2)}, "domain"),
    ({"domain": (0, math.inf)}, "domain"),
    ({"domain": (math.nan, 1)}, "domain"),
    ({"domain": (0, 1, 2)}, "domain"),
    ({"n_samples": 1}, "n_samples"),
    ({"n_samples": 10.5}, "n_samples"),
    ({"n_samples": True}, "n_samples"),
    ({"noise": -0.1}, "noise"),
    ({"noise": math.nan}, "noise"),
    ({"val_fraction": 0}, "val_fraction"),
    ({"val_fraction": 1}, "val_fraction"),
    ({"val_fraction": 1.5}, "val_fraction"),
    ({"sampling": "random"}, "sampling"),
    ({"dtype": np.int32}, "dtype"),
])
def test_function_dataset_argument_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FunctionDataset(cubic, **kwargs)


def test_smallest_dataset_keeps_one_point_on_each_side():
    d = FunctionDataset(cubic, n_samples=2, val_fraction=0.1)
    assert len(d.x_train) == 1 and len(d.x_val) == 1


def test_non_finite_formula_is_reported_with_a_point():
    with pytest.raises(ValueError, match=r"not finite on \[-1, 1\] \(e\.g\. at x=-"):
        FunctionDataset(np.log, domain=(-1, 1))
    d = FunctionDataset(np.log, domain=(0, 1), n_samples=20)  # random points avoid x = 0 ...
    with pytest.raises(ValueError, match=r"x=0\)"):
        d.grid(10)  # ... but the plotting grid includes it
    with pytest.raises(ValueError, match="overflows float32"):
        FunctionDataset(np.exp, domain=(0, 100))
    with pytest.raises(TypeError, match="formula"):
        FunctionDataset(42)


# ----------------------------------------------------------------------------- SurfaceDataset

def test_surface_dataset_shapes_range_and_exact_targets():
    s = SurfaceDataset(saddle, domain=((0, 1), (10, 20)), n_samples=500, val_fraction=0.2, dtype=np.float64)
    assert s.x_train.shape == (400, 2) and s.y_train.shape == (400, 1)
    assert s.x_val.shape == (100, 2) and s.y_val.shape == (100, 1)
    x_all = np.concatenate([s.x_train, s.x_val])
    assert x_all[:, 0].min() >= 0 and x_all[:, 0].max() <= 1 and x_all[:, 1].min() >= 10 and x_all[:, 1].max() <= 20
    np.testing.assert_array_equal(s.y_train[:, 0], saddle(s.x_train[:, 0], s.x_train[:, 1]))
    assert np.intersect1d(s.train_index, s.val_index).size == 0
    assert SurfaceDataset(saddle).x_train.dtype == np.float32


def test_surface_seeded():
    a, b = SurfaceDataset(saddle, noise=0.1, seed=4), SurfaceDataset(saddle, noise=0.1, seed=4)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.x_train, SurfaceDataset(saddle, noise=0.1, seed=5).x_train)


def test_surface_grid_is_laid_out_for_plotly():
    s = SurfaceDataset(saddle, domain=((-1, 1), (0, 4)), dtype=np.float64)
    xs, ys, inputs, z = s.grid(n=4, m=3)
    assert xs.shape == (4,) and ys.shape == (3,) and inputs.shape == (12, 2) and z.shape == (3, 4)
    np.testing.assert_allclose(xs, np.linspace(-1, 1, 4))
    np.testing.assert_allclose(ys, np.linspace(0, 4, 3))
    for i in range(3):  # rows follow y, columns follow x
        for j in range(4):
            assert z[i, j] == pytest.approx(saddle(xs[j], ys[i]))
    np.testing.assert_allclose(saddle(inputs[:, 0], inputs[:, 1]).reshape(3, 4), z)  # model(inputs).reshape(m, n)
    assert s.grid()[3].shape == (40, 40)


@pytest.mark.parametrize("domain", [((1, 0), (0, 1)), ((0, 1),), ((0, 1), (2, 2)), 5])
def test_surface_domain_validation(domain):
    with pytest.raises(ValueError, match="domain"):
        SurfaceDataset(saddle, domain=domain)


# ----------------------------------------------------------------------------- formula strings (bpnet.formula)

def test_formula_strings():
    formula = pytest.importorskip("bpnet.formula")
    d = FunctionDataset("sin(x) + 1", n_samples=30, dtype=np.float64)
    np.testing.assert_allclose(d.y_train, np.sin(d.x_train) + 1)
    s = SurfaceDataset("x*y", n_samples=30, dtype=np.float64)
    np.testing.assert_allclose(s.y_train[:, 0], s.x_train[:, 0] * s.x_train[:, 1])
    with pytest.raises(formula.FormulaError):
        FunctionDataset("log(x)", domain=(-1, 1))
    with pytest.raises(formula.FormulaError):
        FunctionDataset("sin(x", n_samples=30)


# ----------------------------------------------------------------------------- classification

@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_classification_shapes_balance_and_seed(kind):
    x, y = make_classification(kind, n_samples=400, noise=0.1, seed=0)
    assert x.shape == (400, n_features(kind)) and x.dtype == np.float32 and y.shape == (400,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [200, 200]
    assert np.bincount(make_classification_2d(kind, n_samples=401)[1]).tolist() in ([200, 201], [201, 200])
    x2, y2 = make_classification_2d(kind, n_samples=400, noise=0.1, seed=0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, make_classification_2d(kind, n_samples=400, noise=0.1, seed=1)[0])
    assert not np.array_equal(y[:200], np.zeros(200))  # classes are shuffled together
    assert np.abs(x).max() < 3


def test_individual_functions_match_the_dispatcher():
    for kind, fn in (("moons", two_moons), ("spiral", spiral), ("circles", circles), ("xor", xor), ("spheres", spheres)):
        np.testing.assert_array_equal(fn(100, 0.05, 3)[0], make_classification(kind, 100, 0.05, 3)[0])
    assert make_classification_2d is make_classification  # its old name still works


def test_noise_free_geometry():
    x, y = circles(200, noise=0.0)
    r = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.5, rtol=1e-6)
    x, y = two_moons(200, noise=0.0)
    np.testing.assert_allclose(np.hypot(x[y == 0, 0] + 0.5, x[y == 0, 1] + 0.25), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.hypot(x[y == 1, 0] - 0.5, x[y == 1, 1] - 0.25), 1.0, rtol=1e-6)
    x, y = xor(200, noise=0.0)
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))
    x, y = spiral(200, noise=0.0)  # the second arm is the first turned by pi
    arm0, arm1 = x[y == 0], x[y == 1]
    np.testing.assert_allclose(arm0[np.lexsort(arm0.T)], -arm1[np.lexsort((-arm1).T)], atol=1e-6)
    assert np.hypot(arm0[:, 0], arm0[:, 1]).max() == pytest.approx(1.0, rel=1e-6)


def test_spheres_are_two_gaussian_clouds_in_3d():
    x, y = spheres(4000, noise=0.0, seed=0)
    assert n_features("spheres") == 3 and x.shape == (4000, 3) and n_features("moons") == 2
    for label, sign in ((0, -1), (1, 1)):
        cloud = x[y == label]
        np.testing.assert_allclose(cloud.mean(axis=0), sign * 0.6, atol=0.04)  # centred on -/+(0.6, 0.6, 0.6)
        np.testing.assert_allclose(cloud.std(axis=0), 0.5, rtol=0.06)  # round: the same spread on every axis
        assert abs(np.corrcoef(cloud.T)[0, 1]) < 0.06
    # the plane between the centres separates them but for the tails: about 2 % on the wrong side
    assert 0.01 < np.mean((x.sum(axis=1) > 0) != (y == 1)) < 0.03
    noisy, labels = spheres(4000, noise=0.3, seed=0)
    assert noisy[labels == 0].std(axis=0) == pytest.approx([np.hypot(0.5, 0.3)] * 3, rel=0.06)


def test_noise_moves_points():
    clean, _ = circles(200, noise=0.0, seed=0)
    noisy, _ = circles(200, noise=0.2, seed=0)
    jitter = noisy - clean  # same seed: same order, so the difference is the N(0, 0.2^2) noise
    assert jitter.std() == pytest.approx(0.2, rel=0.15) and abs(jitter.mean()) < 0.05


def test_classification_validation():
    with pytest.raises(ValueError, match="moons, spiral, circles, xor, spheres"):
        make_classification_2d("blobs")
    with pytest.raises(ValueError, match="n_samples"):
        make_classification_2d("moons", n_samples=1)
    with pytest.raises(ValueError, match="noise"):
        make_classification_2d("xor", noise=-1)
