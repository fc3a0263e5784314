"""Optimisers against torch.optim in float64: defaults, param_groups, state and state_dict in PyTorch's format
(a checkpoint moves between the two libraries and training continues the same), frozen parameters."""
import numpy as np
import pytest

from bpnet import nn, optim
from twins import (copy_weights, numpy_state_dict, one_torch_thread, seeded, tnn, to_torch,  # noqa: F401
                   torch, torch_state_dict)

F64 = np.float64

CONFIGS = {  # (bpnet class, torch class, keyword arguments)
    "sgd": (optim.SGD, torch.optim.SGD, {"lr": 0.1}),
    "sgd_momentum_wd": (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.1,
                                                     "weight_decay": 1e-2}),
    "sgd_nesterov_maximize": (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                                           "maximize": True}),
    "adagrad": (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 1e-3,
                                                     "initial_accumulator_value": 0.1}),
    "rmsprop": (optim.RMSprop, torch.optim.RMSprop, {}),
    "rmsprop_centered_momentum": (optim.RMSprop, torch.optim.RMSprop, {"lr": 1e-3, "momentum": 0.9,
                                                                       "centered": True, "weight_decay": 1e-3}),
    "adam": (optim.Adam, torch.optim.Adam, {"lr": 0.01}),
    "adam_amsgrad_wd": (optim.Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    "adam_maximize": (optim.Adam, torch.optim.Adam, {"lr": 0.01, "maximize": True}),
    "adam_decoupled": (optim.Adam, torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1,
                                                      "decoupled_weight_decay": True}),
    "adamw_amsgrad": (optim.AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
}


def model_pair(seed=0):
    rng = np.random.default_rng(seed)
    ours = nn.Sequential(nn.Linear(4, 6, dtype=F64, generator=rng), nn.Tanh(), nn.Linear(6, 3, dtype=F64, generator=rng))
    return ours, copy_weights(ours, tnn.Sequential(tnn.Linear(4, 6), tnn.Tanh(), tnn.Linear(6, 3)))


def train(ours, theirs, ours_opt, theirs_opt, steps, start=0):
    """`steps` identical steps of both (MSE on seeded batches)."""
    for t in range(start, start + steps):
        x, y = seeded(8, 4, seed=100 + t), seeded(8, 3, seed=200 + t)
        loss = nn.MSELoss()
        ours_opt.zero_grad()
        loss(ours(x), y)
        ours.backward(loss.backward())
        ours_opt.step()
        theirs_opt.zero_grad()
        tnn.MSELoss()(theirs(to_torch(x)), to_torch(y)).backward()
        theirs_opt.step()


def assert_same_parameters(ours, theirs, rtol=1e-10):
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=rtol, atol=1e-13, err_msg=name)


def assert_same_state_dict(ours, theirs, rtol=1e-10):
    """bpnet's state_dict equals torch's: the same keys, hyper-parameters, steps and arrays."""
    theirs = numpy_state_dict(theirs)
    assert ours["param_groups"] == theirs["param_groups"]
    assert sorted(ours["state"]) == sorted(theirs["state"])  # (torch lists them in the order they were made)
    for i, state in theirs["state"].items():
        assert list(ours["state"][i]) == list(state), i
        for name, value in state.items():
            np.testing.assert_allclose(ours["state"][i][name], value, rtol=rtol, atol=1e-15, err_msg=f"{i} {name}")


@pytest.mark.parametrize("name", CONFIGS)
def test_defaults_param_groups_and_repr_are_torchs(name):
    ours_cls, theirs_cls, kwargs = CONFIGS[name]
    ours, theirs = model_pair()
    ours_opt, theirs_opt = ours_cls(ours.parameters(), **kwargs), theirs_cls(theirs.parameters(), **kwargs)
    assert ours_opt.defaults == theirs_opt.defaults
    assert_same_state_dict(ours_opt.state_dict(), theirs_opt.state_dict())  # (Adagrad: state from the start)
    assert repr(ours_opt) == repr(theirs_opt)


@pytest.mark.parametrize("name", CONFIGS)
def test_state_after_steps_is_torchs_key_for_key(name):
    ours_cls, theirs_cls, kwargs = CONFIGS[name]
    ours, theirs = model_pair()
    ours_opt, theirs_opt = ours_cls(ours.parameters(), **kwargs), theirs_cls(theirs.parameters(), **kwargs)
    train(ours, theirs, ours_opt, theirs_opt, 7)
    assert_same_parameters(ours, theirs)
    assert_same_state_dict(ours_opt.state_dict(), theirs_opt.state_dict())
    for p, q in zip(ours.parameters(), theirs.parameters()):  # optimizer.state is keyed by parameter, as torch's
        assert list(ours_opt.state[p]) == list(theirs_opt.state[q])


@pytest.mark.parametrize("name", CONFIGS)
def test_a_torch_checkpoint_resumes_in_bpnet_and_a_bpnet_checkpoint_in_torch(name):
    ours_cls, theirs_cls, kwargs = CONFIGS[name]
    reference, reference_twin = model_pair()
    ref_opt, ref_twin_opt = ours_cls(reference.parameters(), **kwargs), theirs_cls(reference_twin.parameters(),
                                                                                    **kwargs)
    train(reference, reference_twin, ref_opt, ref_twin_opt, 5)
    # torch -> bpnet: fresh models with the trained weights, optimisers loaded from the other library
    ours, theirs = model_pair(seed=9)
    ours.load_state_dict(reference.state_dict())
    copy_weights(ours, theirs)
    ours_opt, theirs_opt = ours_cls(ours.parameters(), lr=0.5), theirs_cls(theirs.parameters(), lr=0.5)
    ours_opt.load_state_dict(ref_twin_opt.state_dict())  # torch's own state_dict, tensors and all
    theirs_opt.load_state_dict(torch_state_dict(ref_opt.state_dict()))
    assert ours_opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"] != 0.5  # the checkpoint's
    train(ours, theirs, ours_opt, theirs_opt, 5, start=5)
    train(reference, reference_twin, ref_opt, ref_twin_opt, 5, start=5)
    for a, b in zip(ours.parameters(), reference.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-15)  # as if never interrupted
    assert_same_parameters(ours, theirs)
    assert_same_parameters(reference, reference_twin)


def test_param_groups_with_their_own_hyperparameters_like_torch():
    ours, theirs = model_pair()
    make = lambda lib, m: lib.Adam([{"params": m[0].parameters(), "lr": 0.05, "betas": (0.5, 0.9)},  # noqa: E731
                                    {"params": m[2].parameters()}], lr=0.01, weight_decay=0.1)
    ours_opt, theirs_opt = make(optim, ours), make(torch.optim, theirs)
    train(ours, theirs, ours_opt, theirs_opt, 6)
    assert_same_parameters(ours, theirs)
    assert_same_state_dict(ours_opt.state_dict(), theirs_opt.state_dict())
    ours_opt.lr = 0.002  # bpnet's shorthand (the engine's): every group
    assert [g["lr"] for g in ours_opt.param_groups] == [0.002, 0.002] and ours_opt.lr == 0.002


def test_add_param_group_like_torch():
    ours, theirs = model_pair()
    ours_opt, theirs_opt = optim.SGD(ours[0].parameters(), lr=0.1, momentum=0.9), \
        torch.optim.SGD(theirs[0].parameters(), lr=0.1, momentum=0.9)
    train(ours, theirs, ours_opt, theirs_opt, 3)
    ours_opt.add_param_group({"params": ours[2].parameters(), "lr": 0.02})
    theirs_opt.add_param_group({"params": theirs[2].parameters(), "lr": 0.02})
    train(ours, theirs, ours_opt, theirs_opt, 3, start=3)
    assert_same_parameters(ours, theirs)
    with pytest.raises(ValueError, match="same parameter twice"):
        ours_opt.add_param_group({"params": [ours[0].weight]})


@pytest.mark.parametrize("name", ["sgd_momentum_wd", "rmsprop_centered_momentum", "adam_amsgrad_wd", "adagrad"])
def test_frozen_parameters_get_no_gradient_and_no_update_and_thaw_like_torch(name):
    ours_cls, theirs_cls, kwargs = CONFIGS[name]
    ours, theirs = model_pair()
    ours_opt, theirs_opt = ours_cls(ours.parameters(), **kwargs), theirs_cls(theirs.parameters(), **kwargs)
    ours[0].requires_grad_(False)
    theirs[0].requires_grad_(False)
    frozen = ours[0].weight.data.copy()
    train(ours, theirs, ours_opt, theirs_opt, 4)
    np.testing.assert_array_equal(ours[0].weight.data, frozen)
    assert not ours[0].weight.grad.any() and not ours[0].bias.grad.any()
    assert_same_parameters(ours, theirs)
    ours[2].weight.requires_grad_(False)  # frozen after some steps: keeps its state for later
    theirs[2].weight.requires_grad_(False)
    train(ours, theirs, ours_opt, theirs_opt, 3, start=4)
    ours.requires_grad_(True)
    theirs.requires_grad_(True)
    train(ours, theirs, ours_opt, theirs_opt, 4, start=7)  # the first layer starts its state at step 1 now
    assert_same_parameters(ours, theirs)
    assert_same_state_dict(ours_opt.state_dict(), theirs_opt.state_dict())


def test_zero_grad_set_to_none_and_closure_as_torch():
    ours, _ = model_pair()
    opt = optim.SGD(ours.parameters(), lr=0.1)
    x = seeded(3, 4)

    def closure():
        opt.zero_grad(set_to_none=True)
        loss = nn.MSELoss()
        value = loss(ours(x), np.zeros((3, 3)))
        ours.backward(loss.backward())
        return value

    first = opt.step(closure)
    assert isinstance(first, float) and opt.step(closure) < first
    opt.zero_grad(set_to_none=False)
    assert not any(p.grad.any() for p in ours.parameters())


def test_loading_a_state_dict_checks_its_shape():
    ours, _ = model_pair()
    opt = optim.Adam(ours.parameters())
    state = opt.state_dict()
    with pytest.raises(ValueError, match="param groups"):
        opt.load_state_dict({"state": {}, "param_groups": state["param_groups"] * 2})
    opt.step()
    state = opt.state_dict()
    state["state"][0]["exp_avg"] = np.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        opt.load_state_dict(state)
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        optim.Adam(ours.parameters(), differentiable=True)
