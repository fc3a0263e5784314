"""Parameter.grad: zeros after zero_grad() whenever it is read, and products accumulate as with +=."""
import numpy as np
import pytest

from bpnet import nn, optim

RNG = np.random.default_rng(7)
A, B = RNG.standard_normal((4, 5)), RNG.standard_normal((5, 3))


def param(shape=(4, 3)):
    p = nn.Parameter(np.zeros(shape), np.float64)
    p.grad[...] = 5.0  # a stale gradient from an earlier step
    return p


def test_zero_grad_reads_as_zeros_in_the_same_array():
    p = param()
    held = p.grad
    p.zero_grad()
    assert p.grad is held and not p.grad.any() and not held.any()


@pytest.mark.parametrize("touch", ["nothing", "read", "write"])
def test_accumulate_matmul_after_zero_grad_is_plus_equals_on_zeros(touch):
    p = param()
    p.zero_grad()
    if touch == "read":
        assert not p.grad.any()
    elif touch == "write":
        p.grad[...] = 1.0  # e.g. a regulariser's gradient added before backward: it must not be overwritten
    p.accumulate_matmul(A, B)
    expected = A @ B + (1.0 if touch == "write" else 0.0)
    np.testing.assert_allclose(p.grad, expected, rtol=1e-12)
    p.accumulate_matmul(A, B)  # a second backward adds
    np.testing.assert_allclose(p.grad, expected + A @ B, rtol=1e-12)


def test_accumulate_matmul_without_zero_grad_adds_to_what_is_there():
    p = param()
    p.accumulate_matmul(A, B)
    np.testing.assert_allclose(p.grad, 5.0 + A @ B, rtol=1e-12)


def test_accumulate_matmul_reshapes_to_a_conv_weight():
    p = param((2, 3, 2, 2))
    a, b = RNG.standard_normal((2, 7)), RNG.standard_normal((7, 12))
    p.zero_grad()
    p.accumulate_matmul(a, b)
    np.testing.assert_allclose(p.grad, (a @ b).reshape(2, 3, 2, 2), rtol=1e-12)


def test_a_non_contiguous_grad_still_accumulates():
    p = param()
    p.grad = np.full((3, 4), 2.0).T  # rebound to a transposed (non-contiguous) view
    p.zero_grad()
    p.accumulate_matmul(A, B)
    np.testing.assert_allclose(p.grad, A @ B, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.Adam(ps, lr=0.1)])
def test_a_parameter_no_backward_reached_steps_with_a_zero_gradient(make):
    used, unused = nn.Linear(3, 2), nn.Linear(3, 2)
    opt = make(list(used.parameters()) + list(unused.parameters()))
    for p in list(used.parameters()) + list(unused.parameters()):
        p.grad[...] = 1.0  # stale gradients from an earlier step
    before = [p.data.copy() for p in list(used.parameters()) + list(unused.parameters())]
    opt.zero_grad()
    used.backward(used(np.ones((4, 3), np.float32)))
    opt.step()
    after = [p.data for p in list(used.parameters()) + list(unused.parameters())]
    assert all(not np.array_equal(a, b) for a, b in zip(after[:2], before[:2]))  # the used layer learned
    assert all(np.array_equal(a, b) for a, b in zip(after[2:], before[2:]))  # the other saw zero gradients
