"""Optimisers keep their parameters in one contiguous buffer per dtype, without changing what a user sees."""
import numpy as np
import pytest

from bpnet import nn, optim


def mixed_params():
    rng = np.random.default_rng(3)
    ps = [nn.Parameter(rng.standard_normal((3, 2)), np.float32), nn.Parameter(rng.standard_normal(4), np.float64),
          nn.Parameter(rng.standard_normal(5), np.float32)]
    for p in ps:
        p.grad[...] = rng.standard_normal(p.shape)
    return ps


def sgd_path(p0s, grads, steps):
    """Where plain SGD (lr 0.1) takes each parameter, computed without any optimizer."""
    return [p0 - 0.1 * steps * g for p0, g in zip(p0s, grads)]


def test_adoption_keeps_values_shapes_and_dtypes_and_groups_by_dtype():
    ps = mixed_params()
    before = [(p.data.copy(), p.grad.copy()) for p in ps]
    optim.SGD(ps, lr=0.1)
    for p, (data, grad) in zip(ps, before):
        assert p.data.dtype == data.dtype and p.data.shape == data.shape and p.grad.shape == grad.shape
        np.testing.assert_array_equal(p.data, data)
        np.testing.assert_array_equal(p.grad, grad)
    assert np.shares_memory(ps[0].data.base, ps[2].data)  # both float32: one buffer
    assert not np.shares_memory(ps[0].data.base, ps[1].data)
    assert not np.shares_memory(ps[0].data.base, ps[0].grad)


def test_zero_grad_clears_every_parameter():
    ps = mixed_params()
    opt = optim.Adam(ps)
    opt.zero_grad()
    assert all(not p.grad.any() for p in ps)


@pytest.mark.parametrize("field", ["data", "grad"])
def test_a_rebound_array_is_taken_back_in_at_the_next_step(field):
    ps = mixed_params()
    opt = optim.SGD(ps, lr=0.1)
    setattr(ps[1], field, np.full(4, 2.0))  # a user (or a careless layer) rebinds instead of writing in place
    p0s, grads = [p.data.copy() for p in ps], [p.grad.copy() for p in ps]
    opt.step()
    opt.step()
    for p, want in zip(ps, sgd_path(p0s, grads, 2)):
        np.testing.assert_allclose(p.data, want, rtol=1e-5, atol=1e-6)
    opt.zero_grad()
    assert not ps[1].grad.any()


def test_a_parameter_that_changed_shape_is_a_clear_error():
    ps = mixed_params()
    opt = optim.Adam(ps)
    ps[2].data = np.zeros(7, np.float32)
    with pytest.raises(ValueError, match="parameter 2 changed"):
        opt.step()


def test_two_optimizers_over_the_same_parameters_both_keep_working():
    ps = mixed_params()
    p0s, grads = [p.data.copy() for p in ps], [p.grad.copy() for p in ps]
    first, second = optim.SGD(ps, lr=0.1), optim.SGD(ps, lr=0.1)  # the second takes the parameters over
    for _ in range(2):
        first.step()
        second.step()
    for p, want in zip(ps, sgd_path(p0s, grads, 4)):
        np.testing.assert_allclose(p.data, want, rtol=1e-5, atol=1e-6)


def test_a_model_saved_and_loaded_after_training_matches():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    for _ in range(3):
        opt.zero_grad()
        model.backward(np.ones((5, 2), np.float32) * model(x))
        opt.step()
    copy = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy(x), model(x))
    copy_opt = optim.SGD(copy.parameters(), lr=0.1)  # adopting the loaded values changes nothing
    assert copy_opt.steps == 0
    np.testing.assert_array_equal(copy(x), model(x))
