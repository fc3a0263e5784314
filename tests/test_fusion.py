"""Sequential runs a ReLU followed by a 2x2 MaxPool2d as one pass of the pool (max pooling commutes with ReLU):
the same outputs and gradients as the two modules run apart, bit for bit, NaN, infinities, -0.0 and ties
included; hooks, overlapping windows and the numpy reference run the modules apart."""
import numpy as np
import pytest

from bpnet import nn
from bpnet.engine.config import validate_config
from bpnet.engine.trainer import Trainer
from bpnet.nn import kernels
from test_kernels import special_input

pytest.importorskip("numba")  # a runtime requirement: CI always has it


def cnn():
    np.random.seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 2, 3), nn.ReLU(),
                         nn.MaxPool2d(2))


def upstream(shape, dtype):
    """The seeded gradient both ways of running the model receive."""
    return np.random.default_rng(1).standard_normal(shape).astype(dtype)


def train_step(model, x):
    """(output, input gradient, parameter gradients) of one forward and backward through the model."""
    model.zero_grad()
    y = model(x)
    dx = model.backward(upstream(y.shape, x.dtype))
    return [y, dx] + [p.grad.copy() for p in model.parameters()]


def apart(model, x):
    """train_step with each module called on its own (what the pair's fusion must equal)."""
    model.zero_grad()
    y = x
    for m in model:
        y = m(y)
    g = upstream(y.shape, x.dtype)
    for m in reversed(list(model)):
        g = m.backward(g)
    return [y, g] + [p.grad.copy() for p in model.parameters()]


def fused_pools(model, x):
    """How many pools ran fused in the model's last forward."""
    model(x)
    return len(model.saved_tensors[0])


def assert_same(a, b):
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)  # (NaN where the other has NaN)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channel_major"])
@pytest.mark.parametrize("pool", [{"kernel_size": 2}, {"kernel_size": 2, "padding": 1},
                                  {"kernel_size": 2, "stride": 3}])
def test_the_fused_pair_equals_the_two_modules_bit_for_bit(dtype, layout, pool):
    pair, x = nn.Sequential(nn.ReLU(), nn.MaxPool2d(**pool)), special_input((3, 4, 8, 8), dtype, layout)
    assert fused_pools(pair, x) == 1
    assert_same(train_step(pair, x), apart(pair, x))


def test_a_cnn_trains_the_same_with_its_pairs_fused():
    model, x = cnn(), np.random.default_rng(0).standard_normal((4, 3, 10, 10)).astype(np.float32)
    assert fused_pools(model, x) == 2
    assert_same(train_step(model, x), apart(model, x))


def test_a_window_whose_max_is_not_positive_gets_no_gradient():
    pool = nn.MaxPool2d(2)
    x = np.array([[[[-1.0, -2.0, 0.5, 3.0], [-0.0, -4.0, 3.0, 1.0]]]], dtype=np.float32)
    y = pool(x, after_relu=True)
    assert y.tolist() == [[[[0.0, 3.0]]]] and np.signbit(y).sum() == 0
    assert pool.backward(np.ones_like(y)).tolist() == [[[[0, 0, 0, 1], [0, 0, 0, 0]]]]  # the first max only


@pytest.mark.parametrize("reason", ["forward hook", "backward hook", "overlapping windows", "numpy reference"])
def test_the_modules_run_apart_when_the_pair_cannot_fuse(monkeypatch, reason):
    model, x = cnn(), np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    seen = []
    if reason == "forward hook":  # a hook sees the ReLU's own output
        model[1].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    elif reason == "backward hook":
        model[2].register_full_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
    elif reason == "overlapping windows":
        model[2] = nn.MaxPool2d(2, stride=1)
    else:
        monkeypatch.setattr(kernels, "get", lambda name: None)
    assert fused_pools(model, x) == (1 if reason != "numpy reference" else 0)
    assert_same(train_step(model, x), apart(model, x))
    if "hook" in reason:
        assert seen


def test_a_pool_refuses_to_fuse_what_it_cannot():
    with pytest.raises(ValueError, match="cannot fuse"):
        nn.MaxPool2d(2, stride=1).forward_after_relu(np.zeros((1, 1, 4, 4), np.float32))


def test_the_trainer_keeps_the_pair_adjacent_so_a_job_fuses_it():
    t = Trainer(validate_config({"task": "mnist", "model": "cnn", "n_samples": 1000, "epochs": 1}))
    kinds = [type(m).__name__ for m in t.net]
    pairs = [i for i, k in enumerate(kinds) if k == "MaxPool2d"]
    assert pairs and all(kinds[i - 1] == "ReLU" for i in pairs)
    x = t.task.x_train[:4]
    assert fused_pools(t.net, x) == len(pairs)
