"""Optimisers keep their parameters in one contiguous buffer per dtype, without changing what a user sees."""
import copy
import pickle

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


@pytest.mark.parametrize("field, value, message", [
    ("data", np.zeros(7, np.float32), "parameter 2's data is now a [(]7,[)] float32 array, not a [(]5,[)] float32"),
    ("data", np.zeros(5, np.float64), "parameter 2's data is now a [(]5,[)] float64 array"),
    ("grad", None, "parameter 2's grad is now None"),  # PyTorch's idiom; here it would have become NaN
    ("grad", np.ones((1, 5), np.float32), "parameter 2's grad is now a [(]1, 5[)]"),  # no silent broadcasting
])
def test_a_parameter_rebound_to_something_else_is_a_clear_error(field, value, message):
    ps = mixed_params()
    opt = optim.Adam(ps)
    setattr(ps[2], field, value)
    with pytest.raises(ValueError, match=message):
        opt.step()


def test_weights_tied_by_a_view_are_refused_rather_than_untied():
    enc, dec = nn.Parameter(np.ones((2, 3))), nn.Parameter(np.ones((3, 2)))
    dec.data = enc.data.T
    with pytest.raises(ValueError, match="share memory"):
        optim.SGD([enc, dec], lr=0.1)


@pytest.mark.parametrize("copy_pair", [copy.deepcopy, lambda pair: pickle.loads(pickle.dumps(pair))])
def test_a_copied_model_and_optimizer_train_like_the_original(copy_pair):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)

    def train(m, o):
        o.zero_grad()
        m.backward(m(x))
        o.step()

    train(model, opt)
    model2, opt2 = copy_pair((model, opt))
    for pair in ((model, opt), (model2, opt2)):
        train(*pair)
        train(*pair)
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    for p, p2 in zip(model.parameters(), model2.parameters()):  # the copy's state follows its own flat state
        np.testing.assert_array_equal(opt.state[p]["exp_avg"], opt2.state[p2]["exp_avg"])


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
    assert copy_opt.state == {}
    np.testing.assert_array_equal(copy(x), model(x))
