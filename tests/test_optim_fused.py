"""Adam's fused update (numba) gives bitwise the results of the readable numpy reference (Adam._update, on
PyTorch's state), and numpy takes over without it."""
import logging

import numpy as np
import pytest

from bpnet import nn, optim
from bpnet.optim import _fused
from bpnet.optim import adam as adam_module

numba = pytest.importorskip("numba")  # a runtime requirement: CI always has it


def trajectory(make, dtype, fused, monkeypatch):
    """Parameters after 20 steps of the optimizer on seeded gradients spanning eight orders of magnitude."""
    with monkeypatch.context() as m:
        if not fused:
            m.setattr(adam_module, "adam_kernel", lambda: None)
        rng = np.random.default_rng(0)
        ps = [nn.Parameter(rng.standard_normal((50, 30)), dtype), nn.Parameter(rng.standard_normal(7), dtype)]
        start = np.concatenate([p.data.ravel() for p in ps])
        opt = make(ps)
        for t in range(20):
            for p in ps:
                p.grad[...] = rng.standard_normal(p.shape) * 10.0 ** rng.integers(-6, 2)
            if t == 10:
                opt.lr = opt.lr / 2
            opt.step()
    end = np.concatenate([p.data.ravel() for p in ps])
    assert np.all(end != start)  # every parameter moved
    return np.concatenate([end] + [v.ravel() for s in opt.state.values() for v in s.values()
                                   if isinstance(v, np.ndarray)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps), lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
                                  lambda ps: optim.AdamW(ps), lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.3),
                                  lambda ps: optim.Adam(ps, amsgrad=True, weight_decay=0.1),
                                  lambda ps: optim.AdamW(ps, amsgrad=True, maximize=True),
                                  lambda ps: optim.Adam(ps, lr=0.02, maximize=True, betas=(0.3, 0.8))],
                         ids=["adam", "adam_l2", "adamw", "adamw_strong", "adam_amsgrad_l2", "adamw_amsgrad_maximize",
                              "adam_maximize_betas"])
def test_fused_update_is_bitwise_the_numpy_passes(make, dtype, monkeypatch):
    assert optim.adam.adam_kernel() is not None
    fused, passes = trajectory(make, dtype, True, monkeypatch), trajectory(make, dtype, False, monkeypatch)
    np.testing.assert_array_equal(fused, passes)


def fresh(monkeypatch):
    monkeypatch.setattr(_fused, "_tried", False)
    monkeypatch.setattr(_fused, "_kernel", None)


def test_bpnet_numba_0_keeps_to_numpy(monkeypatch):
    fresh(monkeypatch)
    monkeypatch.setenv("BPNET_NUMBA", "0")
    assert _fused.adam_kernel() is None


def test_a_kernel_that_computes_wrong_is_refused_with_a_warning(monkeypatch, caplog):
    fresh(monkeypatch)
    monkeypatch.setattr(_fused, "_adam_loop", lambda data, *args: None)  # "compiles", updates nothing
    with caplog.at_level(logging.WARNING):
        assert _fused.adam_kernel() is None
    assert "using numpy" in caplog.text
    p = nn.Parameter(np.ones(3))
    p.grad[...] = 1.0
    optim.Adam([p], lr=0.5).step()  # numpy does the update
    np.testing.assert_allclose(p.data, 0.5)
