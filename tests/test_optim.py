"""Optimisers against their update equations written out by hand (float64), PyTorch's defaults and input checks."""
from functools import partial

import numpy as np
import pytest

from bpnet import nn, optim

STEPS = 5
P0 = np.array([0.5, -1.5, 2.0, 0.0])
GRADS = np.random.default_rng(0).standard_normal((STEPS, P0.size)) * np.array([1.0, 0.1, 3.0, 1e-3])


def run(make_optimizer, grads=GRADS, p0=P0):
    """Apply one step per gradient in `grads` to a float64 Parameter starting at p0; the trajectory of p."""
    p = nn.Parameter(p0, np.float64)
    opt = make_optimizer([p])
    path = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


# --- reference update equations (as documented for torch.optim) --------------------------------

def sgd_ref(lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, grads=GRADS, p0=P0):
    p, buf, path = p0.copy(), None, []
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        path.append(p)
    return np.array(path)


def adagrad_ref(lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10, grads=GRADS, p0=P0):
    p, s, path = p0.copy(), np.full_like(p0, initial_accumulator_value), []
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        s = s + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        path.append(p)
    return np.array(path)


def rmsprop_ref(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, grads=GRADS, p0=P0):
    p, v, gbar, buf, path = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0), []
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            denom = np.sqrt(v - gbar * gbar) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        path.append(p)
    return np.array(path)


def adam_ref(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, grads=GRADS, p0=P0):
    b1, b2 = betas
    p, m, v, path = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        path.append(p)
    return np.array(path)


CASES = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), partial(sgd_ref, 0.1)),
    "sgd_momentum": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), partial(sgd_ref, 0.1, momentum=0.9)),
    "sgd_dampening": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.8, dampening=0.3),
                      partial(sgd_ref, 0.1, momentum=0.8, dampening=0.3)),
    "sgd_nesterov": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                     partial(sgd_ref, 0.1, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, weight_decay=0.2),
                         partial(sgd_ref, 0.1, momentum=0.5, weight_decay=0.2)),
    "adagrad": (lambda ps: optim.Adagrad(ps, lr=0.5), partial(adagrad_ref, 0.5)),
    "adagrad_all_options": (
        lambda ps: optim.Adagrad(ps, lr=0.5, lr_decay=0.1, weight_decay=0.2, initial_accumulator_value=0.3),
        partial(adagrad_ref, 0.5, lr_decay=0.1, weight_decay=0.2, initial_accumulator_value=0.3)),
    "rmsprop": (lambda ps: optim.RMSprop(ps, lr=0.05, alpha=0.9), partial(rmsprop_ref, 0.05, alpha=0.9)),
    "rmsprop_momentum": (lambda ps: optim.RMSprop(ps, lr=0.05, momentum=0.8),
                         partial(rmsprop_ref, 0.05, momentum=0.8)),
    "rmsprop_centered": (lambda ps: optim.RMSprop(ps, lr=0.05, alpha=0.9, centered=True),
                         partial(rmsprop_ref, 0.05, alpha=0.9, centered=True)),
    "rmsprop_centered_momentum_wd": (
        lambda ps: optim.RMSprop(ps, lr=0.05, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1),
        partial(rmsprop_ref, 0.05, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.1, betas=(0.8, 0.95), eps=1e-3),
             partial(adam_ref, 0.1, betas=(0.8, 0.95), eps=1e-3)),
    "adam_weight_decay": (lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.5),
                          partial(adam_ref, 0.1, weight_decay=0.5)),
    "adamw": (lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.5),
              partial(adam_ref, 0.1, weight_decay=0.5, decoupled=True)),
}


@pytest.mark.parametrize("case", CASES)
def test_update_equations(case):
    make, reference = CASES[case]
    np.testing.assert_allclose(run(make), reference(), rtol=1e-12, atol=1e-15)


DEFAULTS = {  # PyTorch's documented defaults
    "SGD": (optim.SGD, partial(sgd_ref, 1e-3),
            {"lr": 1e-3, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0}),
    "Adagrad": (optim.Adagrad, partial(adagrad_ref, 0.01, eps=1e-10),
                {"lr": 0.01, "eps": 1e-10, "weight_decay": 0.0}),
    "RMSprop": (optim.RMSprop, partial(rmsprop_ref, 0.01, alpha=0.99, eps=1e-8),
                {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False}),
    "Adam": (optim.Adam, partial(adam_ref, 1e-3, betas=(0.9, 0.999), eps=1e-8),
             {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
    "AdamW": (optim.AdamW,
              partial(adam_ref, 1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, decoupled=True),
              {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.01}),
}


@pytest.mark.parametrize("name", DEFAULTS)
def test_pytorch_default_hyperparameters(name):
    cls, reference, attributes = DEFAULTS[name]
    opt = cls([nn.Parameter(P0)])
    for attr, value in attributes.items():
        assert opt.defaults[attr] == opt.param_groups[0][attr] == value, attr
    np.testing.assert_allclose(run(cls), reference(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW])
def test_changing_lr_between_steps_takes_effect(cls):
    grads = np.ones((2, 3))
    slow, fast = nn.Parameter(np.zeros(3), np.float64), nn.Parameter(np.zeros(3), np.float64)
    opt_slow, opt_fast = cls([slow], lr=0.01), cls([fast], lr=0.01)
    for i, g in enumerate(grads):
        slow.grad[...] = g
        fast.grad[...] = g
        if i == 1:
            opt_fast.lr = 0.05
        before_slow, before_fast = slow.data.copy(), fast.data.copy()
        opt_slow.step()
        opt_fast.step()
    # with identical states, the second update is exactly proportional to lr for every optimiser here
    np.testing.assert_allclose(fast.data - before_fast, 5 * (slow.data - before_slow), rtol=1e-12)


def test_changing_lr_for_sgd_by_hand():
    p = nn.Parameter(np.array([1.0]), np.float64)
    opt = optim.SGD([p], lr=0.1)
    p.grad[...] = 2.0
    opt.step()
    opt.lr = 0.01
    opt.step()
    np.testing.assert_allclose(p.data, [1.0 - 0.1 * 2 - 0.01 * 2], rtol=1e-15)


@pytest.mark.parametrize("case", ["sgd_nesterov", "sgd_weight_decay", "adagrad_all_options",
                                  "rmsprop_centered_momentum_wd", "adam_weight_decay", "adamw"])
def test_large_parameters_follow_the_same_equations(case):
    """Big arrays may be updated in spans (on several threads); each parameter still follows its own equations."""
    make, reference = CASES[case]
    rng = np.random.default_rng(5)
    sizes = (5, 200_003, 70_001)
    p0s = [rng.standard_normal(n) for n in sizes]
    grads = [rng.standard_normal((3, n)) for n in sizes]
    ps = [nn.Parameter(p0, np.float64) for p0 in p0s]
    opt = make(ps)
    for t in range(3):
        for p, g in zip(ps, grads):
            p.grad[...] = g[t]
        opt.step()
    for p, p0, g in zip(ps, p0s, grads):
        np.testing.assert_allclose(p.data, reference(grads=g, p0=p0)[-1], rtol=1e-12, atol=1e-15)


def params():
    return [nn.Parameter(np.zeros(2))]


INVALID = {
    "negative lr": lambda: optim.SGD(params(), lr=-0.1),
    "nan lr": lambda: optim.Adam(params(), lr=float("nan")),
    "string lr": lambda: optim.Adam(params(), lr="0.1"),
    "negative momentum": lambda: optim.SGD(params(), lr=0.1, momentum=-0.9),
    "nesterov without momentum": lambda: optim.SGD(params(), lr=0.1, nesterov=True),
    "nesterov with dampening": lambda: optim.SGD(params(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
    "negative weight decay": lambda: optim.SGD(params(), lr=0.1, weight_decay=-1e-4),
    "beta1 = 1": lambda: optim.Adam(params(), betas=(1.0, 0.999)),
    "beta2 > 1": lambda: optim.AdamW(params(), betas=(0.9, 1.5)),
    "negative beta": lambda: optim.Adam(params(), betas=(-0.1, 0.999)),
    "three betas": lambda: optim.Adam(params(), betas=(0.9, 0.99, 0.999)),
    "negative eps adam": lambda: optim.Adam(params(), eps=-1e-8),
    "negative eps adagrad": lambda: optim.Adagrad(params(), eps=-1e-10),
    "negative lr_decay": lambda: optim.Adagrad(params(), lr_decay=-0.1),
    "negative eps rmsprop": lambda: optim.RMSprop(params(), eps=-1e-8),
    "negative alpha": lambda: optim.RMSprop(params(), alpha=-0.5),
    "negative rmsprop momentum": lambda: optim.RMSprop(params(), momentum=-0.5),
    "empty SGD": lambda: optim.SGD([], lr=0.1),
    "empty Adam": lambda: optim.Adam([]),
    "empty generator": lambda: optim.RMSprop(p for p in []),
    "same parameter twice": lambda: optim.Adam(params() * 2),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_hyperparameters_raise(case):
    with pytest.raises(ValueError):
        INVALID[case]()


def test_setting_invalid_lr_later_raises():
    opt = optim.Adam(params())
    with pytest.raises(ValueError):
        opt.lr = -1.0
    assert opt.lr == 1e-3


def test_non_parameters_are_rejected():
    with pytest.raises(TypeError):
        optim.SGD([np.zeros(3)], lr=0.1)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW])
def test_zero_grad_clears_in_place_and_step_updates_in_place(cls):
    model = nn.Sequential(nn.Linear(3, 2))
    opt = cls(model.parameters(), lr=0.1)
    datas = [p.data for p in model.parameters()]
    grads = [p.grad for p in model.parameters()]
    for p in model.parameters():
        p.grad[...] = 1.0
    before = [d.copy() for d in datas]
    opt.step()
    opt.zero_grad()
    for p, d, g, b in zip(model.parameters(), datas, grads, before):
        assert p.data is d and p.grad is g
        assert not np.any(g)
        assert not np.array_equal(d, b)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adagrad(ps, lr=0.1),
                                  lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5, centered=True),
                                  lambda ps: optim.Adam(ps, lr=0.1), lambda ps: optim.AdamW(ps, lr=0.1)])
def test_state_is_aligned_with_the_parameter_list(make):
    rng = np.random.default_rng(1)
    p0s = [rng.standard_normal((2, 3)), rng.standard_normal(4), rng.standard_normal((1, 1))]
    grads = [rng.standard_normal((3,) + p0.shape) for p0 in p0s]
    ps = [nn.Parameter(p0, np.float64) for p0 in p0s]
    opt = make(ps)
    assert (opt.state == {}) != isinstance(opt, optim.Adagrad)  # state from the first step (Adagrad's at once)
    for t in range(3):
        for p, g in zip(ps, grads):
            p.grad[...] = g[t]
        opt.step()
    assert list(opt.state) == ps
    for p, state in opt.state.items():
        assert all(v.shape == p.shape for v in state.values() if isinstance(v, np.ndarray))
    for p, p0, g in zip(ps, p0s, grads):  # each parameter moves exactly as if it were optimised alone
        alone = run(make, grads=g.reshape(3, -1), p0=p0.ravel())[-1]
        np.testing.assert_allclose(p.data.ravel(), alone, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                                  lambda ps: optim.Adagrad(ps, weight_decay=0.1),
                                  lambda ps: optim.RMSprop(ps, momentum=0.5, centered=True),
                                  lambda ps: optim.Adam(ps, weight_decay=0.1), optim.AdamW])
def test_float32_parameters_stay_float32(make):
    p = nn.Parameter(np.ones(3, dtype=np.float32))
    opt = make([p])
    for _ in range(3):
        p.grad[...] = 0.5
        opt.step()
    assert p.data.dtype == np.float32 and p.grad.dtype == np.float32
    assert np.all(p.data < 1)


def test_repr_lists_hyperparameters():
    text = repr(optim.Adam(params(), lr=0.01))
    assert text.startswith("Adam (\nParameter Group 0\n") and "\n    lr: 0.01\n" in text
    assert "\n    betas: (0.9, 0.999)\n" in text
