"""Forward and backward hooks with PyTorch's signatures: fired for every module call (nested, reused, the
top-level one), handed the very arrays the network computed, removable, and able to replace values."""
import numpy as np
import pytest

from bpnet import nn
from twins import copy_weights, one_torch_thread, seeded, tnn, to_torch  # noqa: F401

F64 = np.float64


def net(seed=0):
    """Linear-Tanh-(Linear-ReLU)-Linear, the middle block a nested Sequential."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 4, dtype=F64, generator=rng), nn.Tanh(),
                         nn.Sequential(nn.Linear(4, 4, dtype=F64, generator=rng), nn.ReLU()),
                         nn.Linear(4, 2, dtype=F64, generator=rng))


def record(model):
    """Hooks on every module (the model too) that log (kind, module name, arrays) in firing order."""
    log = []
    for name, module in model.named_modules():
        module.register_forward_hook(lambda m, i, o, name=name: log.append(("forward", name, i, o)))
        module.register_full_backward_hook(lambda m, gi, go, name=name: log.append(("backward", name, gi, go)))
    return log


def test_hooks_fire_for_every_module_nested_ones_and_the_top_level_in_call_order():
    model = net()
    log = record(model)
    model.backward(model(seeded(5, 3)))
    names = [(kind, name) for kind, name, *_ in log]
    assert names == [("forward", n) for n in ("0", "1", "2.0", "2.1", "2", "3", "")] + \
                    [("backward", n) for n in ("3", "2.1", "2.0", "2", "1", "0", "")]


def test_hooks_get_torchs_tuples_and_exactly_the_arrays_the_network_passed_on():
    model = net()
    log = record(model)
    x = seeded(5, 3)
    out = model(x)
    dx = model.backward(np.ones_like(out))
    forward = {name: (i, o) for kind, name, i, o in log if kind == "forward"}
    backward = {name: (gi, go) for kind, name, gi, go in log if kind == "backward"}
    assert all(isinstance(i, tuple) and len(i) == 1 for i, _ in forward.values())
    assert all(isinstance(gi, tuple) and isinstance(go, tuple) for gi, go in backward.values())
    np.testing.assert_array_equal(forward["0"][0][0], x)  # (a private copy of the caller's array)
    for a, b in [("0", "1"), ("1", "2.0"), ("2.0", "2.1"), ("2.1", "3")]:
        assert forward[a][1] is forward[b][0][0]  # one module's output is the next one's input, the same array
        assert backward[b][0][0] is backward[a][1][0]  # its grad_input is the previous one's grad_output
    assert forward["3"][1] is out and backward[""][0][0] is dx


def test_the_hooked_values_are_the_ones_torch_computes():
    model = net()
    twin = copy_weights(model, tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh(),
                                              tnn.Sequential(tnn.Linear(4, 4), tnn.ReLU()), tnn.Linear(4, 2)))
    ours, theirs = [], []
    for (name, m), (_, t) in zip(model.named_modules(), twin.named_modules()):
        m.register_forward_hook(lambda m, i, o, name=name: ours.append((name, o)))
        m.register_full_backward_hook(lambda m, gi, go, name=name: ours.append((name, go[0])))
        t.register_forward_hook(lambda m, i, o, name=name: theirs.append((name, o.detach().numpy())))
        t.register_full_backward_hook(lambda m, gi, go, name=name: theirs.append((name, go[0].numpy())))
    x, g = seeded(5, 3), seeded(5, 2, seed=2)
    model(x)
    model.backward(g)
    twin(to_torch(x, requires_grad=True)).backward(to_torch(g))
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    for (name, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)


def test_a_module_used_twice_fires_twice_with_each_calls_arrays():
    act, middle = nn.Tanh(), nn.Linear(3, 3, dtype=F64, generator=1)
    model = nn.Sequential(nn.Linear(3, 3, dtype=F64, generator=0), act, middle, act)
    outputs, grads, middle_grad = [], [], []
    act.register_forward_hook(lambda m, i, o: outputs.append(o))
    act.register_full_backward_hook(lambda m, gi, go: grads.append(go[0]))
    middle.register_full_backward_hook(lambda m, gi, go: middle_grad.append(gi[0]))
    out = model(seeded(4, 3))
    g = np.ones_like(out)
    model.backward(g)
    assert len(outputs) == len(grads) == 2 and outputs[1] is out
    assert grads[0] is g and grads[1] is middle_grad[0]  # the second call is differentiated first


def test_a_forward_hook_returning_a_value_replaces_the_output():
    layer = nn.Linear(3, 2, dtype=F64, generator=0)
    handle = layer.register_forward_hook(lambda m, i, o: o * 0 + 7)
    model = nn.Sequential(layer, nn.Tanh())
    np.testing.assert_allclose(model(seeded(2, 3)), np.tanh(7.0))
    handle.remove()
    assert not np.allclose(model(seeded(2, 3)), np.tanh(7.0))


def test_a_backward_hook_returning_a_tuple_replaces_grad_input():
    model = net()
    model[1].register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    model.backward(model(seeded(5, 3)))
    assert not model[0].weight.grad.any() and model[3].weight.grad.any()
    model[1].register_full_backward_hook(lambda m, gi, go: (gi[0], gi[0]))
    with pytest.raises(ValueError, match="returned 2 gradients; grad_input has 1"):
        model.backward(model(seeded(5, 3)))


def test_remove_and_with_unregister_a_hook():
    layer, calls = nn.ReLU(), []
    handle = layer.register_forward_hook(lambda *a: calls.append("kept"))
    with layer.register_forward_hook(lambda *a: calls.append("scoped")):
        layer(seeded(2, 2))
    layer(seeded(2, 2))
    handle.remove()
    handle.remove()  # twice is harmless
    layer(seeded(2, 2))
    assert calls == ["kept", "scoped", "kept"]


def test_first_layer_without_input_gradient_gets_grad_input_none():
    model = net()
    model[0].needs_input_grad = False
    seen = []
    model[0].register_full_backward_hook(lambda m, gi, go: seen.append(gi))
    assert model.backward(model(seeded(5, 3))) is None
    assert seen == [(None,)]


def test_loss_hooks_see_prediction_target_and_the_gradient():
    loss, seen = nn.MSELoss(), {}
    loss.register_forward_hook(lambda m, i, o: seen.update(input=i, output=o))
    loss.register_full_backward_hook(lambda m, gi, go: seen.update(grad_input=gi, grad_output=go))
    p, t = seeded(3, 2), seeded(3, 2, seed=2)
    value = loss(p, t)
    grad = loss.backward()
    np.testing.assert_array_equal(seen["input"][0], p)
    np.testing.assert_array_equal(seen["input"][1], t)
    assert seen["output"] == value and seen["grad_input"][0] is grad and seen["grad_input"][1] is None
    assert seen["grad_output"] == (1.0,)


def test_a_custom_module_gets_its_hooks_through_super_backward_once():
    class Scaled(nn.Tanh):
        def backward(self, dy):
            return super().backward(dy) * 2.0

    layer, calls = Scaled(), []
    layer.register_full_backward_hook(lambda m, gi, go: calls.append(gi[0]))
    layer(seeded(2, 2))
    dx = layer.backward(np.ones((2, 2)))
    assert len(calls) == 1 and calls[0] is dx


def test_hooks_must_be_callable():
    with pytest.raises(TypeError, match="callable"):
        nn.ReLU().register_forward_hook("not a function")
