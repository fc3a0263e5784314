"""bpnet against PyTorch in float64: forward, losses, input and parameter gradients, 20 optimiser steps."""
import numpy as np
import pytest

from bpnet import nn, optim

import torch  # requirements-dev.txt pins the CPU wheel: these tests never skip
tnn = torch.nn

F64 = np.float64
RTOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """These tensors are tiny: intra-op threads only add contention (seconds per test on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def mlp_pair(seed=0, p=0.0):
    """Linear(no bias, BN follows)-BatchNorm1d-ReLU-Dropout-Linear in both libraries, same weights."""
    rng = np.random.default_rng(seed)
    ours = nn.Sequential(nn.Linear(5, 8, bias=False, dtype=F64, generator=rng), nn.BatchNorm1d(8, dtype=F64),
                         nn.ReLU(), nn.Dropout(p), nn.Linear(8, 3, dtype=F64, generator=rng))
    theirs = tnn.Sequential(tnn.Linear(5, 8, bias=False), tnn.BatchNorm1d(8), tnn.ReLU(), tnn.Dropout(p),
                            tnn.Linear(8, 3)).double()
    return copy_weights(ours, theirs)


def cnn_pair(seed=0, pool=(2, None)):
    """Conv2d(stride 2, padding 1)-BatchNorm2d-ReLU-MaxPool2d-Flatten-Linear on (N, 2, 9, 9) input."""
    rng = np.random.default_rng(seed)
    side = (9 + 2 - 3) // 2 + 1
    side = (side - pool[0]) // (pool[1] or pool[0]) + 1
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False, dtype=F64, generator=rng),
                         nn.BatchNorm2d(4, dtype=F64), nn.ReLU(), nn.MaxPool2d(*pool), nn.Flatten(),
                         nn.Linear(4 * side * side, 3, dtype=F64, generator=rng))
    theirs = tnn.Sequential(tnn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False), tnn.BatchNorm2d(4), tnn.ReLU(),
                            tnn.MaxPool2d(*pool), tnn.Flatten(), tnn.Linear(4 * side * side, 3)).double()
    return copy_weights(ours, theirs)


def copy_weights(ours, theirs):
    """Give the torch model bpnet's (non-trivial) parameters and buffers; the key sets must be identical."""
    for m in ours.modules():
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):  # move BN away from the identity affine map
            m.weight.data[:] = np.linspace(0.5, 1.5, m.num_features)
            m.bias.data[:] = np.linspace(-0.2, 0.3, m.num_features)
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return ours, theirs


def as_numpy(t):
    return t.detach().numpy()


def assert_same_state(ours, theirs, rtol):
    theirs_state = theirs.state_dict()
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(value, as_numpy(theirs_state[name]), rtol=rtol, atol=rtol * 1e-2, err_msg=name)


def mlp_input(seed=1, n=16):
    return np.random.default_rng(seed).standard_normal((n, 5)) * 2 + 0.5


def cnn_input(seed=1, n=6):
    return np.random.default_rng(seed).standard_normal((n, 2, 9, 9))


def targets(kind, n, seed=2):
    rng = np.random.default_rng(seed)
    if kind == "labels":
        return rng.integers(0, 3, n)
    if kind == "probabilities":
        return rng.dirichlet(np.ones(3), size=n)
    return rng.standard_normal((n, 3))


def losses(kind):
    if kind == "mse":
        return nn.MSELoss(), tnn.MSELoss()
    return nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()


def test_state_dict_keys_match_pytorch():
    ours, theirs = cnn_pair()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


@pytest.mark.parametrize("train_mode", [True, False])
@pytest.mark.parametrize("make,make_input", [(mlp_pair, mlp_input), (cnn_pair, cnn_input),
                                             (lambda: cnn_pair(pool=(3, 2)), cnn_input)])
@pytest.mark.parametrize("kind", ["labels", "probabilities", "mse"])
def test_forward_loss_and_gradients_match(make, make_input, kind, train_mode):
    ours, theirs = make()
    if not train_mode:  # non-trivial running statistics first, then eval (Dropout inactive, BN uses them)
        for seed in (10, 11):
            ours(make_input(seed))
            theirs(torch.from_numpy(make_input(seed)))
        ours.eval()
        theirs.eval()
    x = make_input()
    y = targets(kind, len(x))
    ours_loss, theirs_loss = losses(kind)

    out = ours(x)
    loss = ours_loss(out, y)
    ours.zero_grad()
    dx = ours.backward(ours_loss.backward())

    tx = torch.from_numpy(x.copy()).requires_grad_()
    tout = theirs(tx)
    tloss = theirs_loss(tout, torch.from_numpy(y))
    tloss.backward()

    np.testing.assert_allclose(out, as_numpy(tout), rtol=RTOL, atol=1e-12)
    assert loss == pytest.approx(tloss.item(), rel=RTOL)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=RTOL, atol=1e-14)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, theirs_params[name].grad.numpy(), rtol=RTOL, atol=1e-14, err_msg=name)
    assert_same_state(ours, theirs, RTOL)


def test_dropout_eval_with_large_p_matches():
    ours, theirs = mlp_pair(p=0.7)
    ours.eval()
    theirs.eval()
    x = mlp_input()
    np.testing.assert_allclose(ours(x), as_numpy(theirs(torch.from_numpy(x))), rtol=RTOL)


OPTIMIZERS = {
    "sgd_nesterov_wd": (lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
                        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    "sgd_momentum_dampening": (
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.2, weight_decay=1e-2),
        lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, dampening=0.2, weight_decay=1e-2)),
    "adagrad": (lambda ps: optim.Adagrad(ps, lr=0.05, lr_decay=0.01, weight_decay=1e-3, initial_accumulator_value=0.1),
                lambda ps: torch.optim.Adagrad(ps, lr=0.05, lr_decay=0.01, weight_decay=1e-3,
                                               initial_accumulator_value=0.1)),
    "rmsprop": (lambda ps: optim.RMSprop(ps), lambda ps: torch.optim.RMSprop(ps)),
    "rmsprop_centered_momentum": (
        lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.9, centered=True, weight_decay=1e-3),
        lambda ps: torch.optim.RMSprop(ps, lr=1e-3, momentum=0.9, centered=True, weight_decay=1e-3)),
    "adam": (lambda ps: optim.Adam(ps, lr=0.01), lambda ps: torch.optim.Adam(ps, lr=0.01)),
    "adam_wd": (lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.05),
                lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.05)),
    "adamw": (lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
              lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1)),
}


@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("make,make_input,kind", [(mlp_pair, mlp_input, "labels"), (cnn_pair, cnn_input, "mse")])
def test_twenty_optimizer_steps_match(opt, make, make_input, kind):
    ours, theirs = make()
    make_ours, make_theirs = OPTIMIZERS[opt]
    ours_opt, theirs_opt = make_ours(ours.parameters()), make_theirs(theirs.parameters())
    ours_loss, theirs_loss = losses(kind)
    start = ours.state_dict()
    for step in range(20):
        x = make_input(seed=100 + step)
        y = targets(kind, len(x), seed=200 + step)

        ours_opt.zero_grad()
        ours_loss(ours(x), y)
        ours.backward(ours_loss.backward())
        ours_opt.step()

        theirs_opt.zero_grad()
        theirs_loss(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs_opt.step()
    assert not np.allclose(ours.state_dict()["0.weight"], start["0.weight"])
    assert ours.state_dict()["1.num_batches_tracked"] == 20
    assert_same_state(ours, theirs, rtol=1e-9)
