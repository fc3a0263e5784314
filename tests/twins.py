"""Torch twins: the same module, loss or optimiser in PyTorch, fed bpnet's parameters; each check is one call.

    check_layer(nn.GELU(), torch.nn.GELU(), x)            # forward, input and parameter gradients, float64
    check_loss(nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum"), prediction, target)
"""
import numpy as np
import pytest
import torch  # requirements-dev.txt pins the CPU wheel: these checks never skip

__all__ = ["torch", "tnn", "RTOL", "one_torch_thread", "copy_weights", "to_torch", "check_layer", "check_loss",
           "assert_grads_match", "torch_state_dict", "numpy_state_dict", "seeded"]

tnn = torch.nn
RTOL = 1e-10


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Twin tensors are tiny: intra-op threads only add contention on a busy machine. (Import it into a test
    module to use it there.)"""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def seeded(*shape, seed=1, scale=1.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


def to_torch(a, requires_grad=False):
    t = torch.from_numpy(np.array(a, copy=True))
    return t.requires_grad_() if requires_grad else t


def copy_weights(ours, theirs):
    """Give the torch twin bpnet's parameters and buffers (float64); the key sets must be identical."""
    theirs.double()
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict()), "the state_dict keys differ from PyTorch's"
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return theirs


def assert_grads_match(ours, theirs, rtol=RTOL):
    """Every parameter's gradient (and the buffers) equal the twin's; a frozen parameter has none in either."""
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        twin = theirs_params[name].grad
        if twin is None:
            assert not p.requires_grad and not p.grad.any(), f"{name} got a gradient the twin did not"
        else:
            np.testing.assert_allclose(p.grad, twin.numpy(), rtol=rtol, atol=1e-13, err_msg=name)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=rtol, atol=1e-13, err_msg=name)


def check_layer(ours, theirs, x, seed=0, rtol=RTOL):
    """ours(x) equals theirs(x); with a random upstream gradient, so do dx and every parameter gradient."""
    copy_weights(ours, theirs)
    x = np.asarray(x, dtype=np.float64)
    out = ours(x)
    w = np.random.default_rng(seed).standard_normal(out.shape)
    ours.zero_grad()
    dx = ours.backward(w.copy())
    tx = to_torch(x, requires_grad=True)
    theirs.zero_grad(set_to_none=True)
    tout = theirs(tx)
    tout.backward(torch.from_numpy(w))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=rtol, atol=1e-13, err_msg="output")
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=1e-13, err_msg="input gradient")
    assert_grads_match(ours, theirs, rtol)
    return out, dx


def check_loss(ours, theirs, prediction, target, seed=0, rtol=RTOL):
    """The loss and d loss / d prediction equal the twin's (with a random grad_output for reduction='none')."""
    prediction = np.asarray(prediction, dtype=np.float64)
    loss = ours(prediction, target)
    tp = to_torch(prediction, requires_grad=True)
    tloss = theirs(tp, to_torch(target))
    if ours.reduction == "none":
        g = np.random.default_rng(seed).standard_normal(np.shape(loss))
        grad = ours.backward(g)
        tloss.backward(torch.from_numpy(g))
        np.testing.assert_allclose(loss, tloss.detach().numpy(), rtol=rtol, atol=1e-13, err_msg="losses")
    else:
        assert isinstance(loss, float)
        grad = ours.backward()
        tloss.backward()
        assert loss == pytest.approx(tloss.item(), rel=rtol, abs=1e-13, nan_ok=True), "loss"
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=rtol, atol=1e-13, err_msg="gradient")
    return loss, grad


def torch_state_dict(state_dict):
    """An optimizer state_dict of bpnet's as torch holds it: tensors, and 'step' a float32 tensor."""
    state = {i: {k: torch.tensor(v, dtype=torch.float32) if k == "step" else torch.from_numpy(np.array(v))
                 for k, v in s.items()} for i, s in state_dict["state"].items()}
    return {"state": state, "param_groups": state_dict["param_groups"]}


def numpy_state_dict(state_dict):
    """A torch optimizer state_dict with numpy arrays and floats instead of tensors (as bpnet's looks)."""
    state = {i: {k: float(v) if k == "step" else (None if v is None else v.numpy().copy()) for k, v in s.items()}
             for i, s in state_dict["state"].items()}
    return {"state": state, "param_groups": [dict(g) for g in state_dict["param_groups"]]}
