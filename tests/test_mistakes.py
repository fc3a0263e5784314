"""Natural mistakes give the right answer or a clear error, never a silently wrong gradient (issue 12's list)."""
import re
import tracemalloc

import numpy as np
import pytest

import bpnet
from bpnet import nn, optim
from bpnet.data import FunctionDataset, holdout_size, train_test_split
from bpnet.engine import config as config_module
from bpnet.engine.trainer import Trainer
from twins import check_layer, copy_weights, one_torch_thread, seeded, tnn, to_torch, torch  # noqa: F401

F64 = np.float64


def lin(i, o, seed=0):
    return nn.Linear(i, o, dtype=F64, generator=seed)


# --- one module instance used twice ------------------------------------------------------------------

def test_an_activation_used_twice_gives_torchs_gradients():
    act = nn.Tanh()
    twin_act = tnn.Tanh()
    check_layer(nn.Sequential(lin(3, 4), act, lin(4, 4, 1), act, lin(4, 2, 2)),
                tnn.Sequential(tnn.Linear(3, 4), twin_act, tnn.Linear(4, 4), twin_act, tnn.Linear(4, 2)),
                seeded(5, 3, scale=2))


def test_a_linear_reused_for_weight_sharing_gives_torchs_gradients():
    shared, twin_shared = lin(4, 4), tnn.Linear(4, 4)
    check_layer(nn.Sequential(shared, nn.ReLU(), shared, nn.Sigmoid(), shared),
                tnn.Sequential(twin_shared, tnn.ReLU(), twin_shared, tnn.Sigmoid(), twin_shared), seeded(6, 4))


def test_a_block_reused_inside_a_network_gives_torchs_gradients():
    block = nn.Sequential(lin(3, 3), nn.Tanh())
    twin = tnn.Sequential(tnn.Linear(3, 3), tnn.Tanh())
    check_layer(nn.Sequential(block, lin(3, 3, 1), block), tnn.Sequential(twin, tnn.Linear(3, 3), twin), seeded(4, 3))


def test_a_second_backward_of_a_network_with_a_reused_module_adds_the_same_gradients():
    act = nn.Tanh()
    model = nn.Sequential(lin(3, 3), act, lin(3, 3, 1), act)
    model.backward(model(seeded(4, 3)) * 0 + 1)
    once = [p.grad.copy() for p in model.parameters()]
    model.backward(np.ones((4, 3)))
    for p, g in zip(model.parameters(), once):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-14)


def test_repeated_forwards_without_backward_do_not_accumulate_memory():
    act = nn.Tanh()
    model = nn.Sequential(lin(100, 100), act, lin(100, 100, 1), act)
    x = seeded(256, 100)
    model(x)
    tracemalloc.start()
    model(x)
    after_one = tracemalloc.get_traced_memory()[0]
    for _ in range(20):
        model(x)
    grown = tracemalloc.get_traced_memory()[0] - after_one
    tracemalloc.stop()
    assert grown < x.nbytes / 2, f"{grown} bytes kept by 20 more forwards"


# --- arrays edited in place before backward ------------------------------------------------------------

def gradients(model, x, edit=None):
    """(dx, parameter gradients) of sum(w * model(x)), with `edit(output)` applied in place before backward."""
    model.zero_grad()
    out = model(x)
    w = np.random.default_rng(7).standard_normal(out.shape)
    if edit is not None:
        edit(out)
    dx = model.backward(w)
    return dx, [p.grad.copy() for p in model.parameters()]


def add_one(a):
    a += 1


def subtract_half(a):
    a -= 0.5


def zero(a):
    a[...] = 0


@pytest.mark.parametrize("make, x, edit", [
    (lambda: nn.MaxPool2d(2), seeded(2, 3, 6, 6), add_one),
    (nn.Sigmoid, seeded(4, 5), subtract_half),
    (nn.Tanh, seeded(4, 5), subtract_half),
    (lambda: nn.Softmax(dim=1), seeded(4, 5), zero),
    (lambda: nn.LogSoftmax(dim=1), seeded(4, 5), zero),
    (nn.ReLU, seeded(4, 5), zero),
    (nn.GELU, seeded(4, 5), zero),
    (lambda: nn.BatchNorm1d(5, dtype=F64), seeded(4, 5), zero),
    (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, dtype=F64, generator=0), nn.ReLU(), nn.MaxPool2d(2)),
     seeded(2, 2, 8, 8), add_one),
], ids=["maxpool", "sigmoid", "tanh", "softmax", "log_softmax", "relu", "gelu", "batchnorm", "conv_block"])
def test_editing_the_output_in_place_leaves_the_gradients_alone(make, x, edit):
    clean = gradients(make(), x)
    edited = gradients(make(), x, edit)
    np.testing.assert_array_equal(edited[0], clean[0])
    for a, b in zip(edited[1], clean[1]):
        np.testing.assert_array_equal(a, b)


def test_a_linear_input_buffer_refilled_before_backward_leaves_dw_alone():
    layer, buffer = lin(3, 2), seeded(4, 3)
    x = buffer.copy()
    layer(buffer)
    buffer[...] = 0  # the caller reuses its buffer for the next batch
    layer.backward(np.ones((4, 2)))
    np.testing.assert_allclose(layer.weight.grad, np.ones((2, 4)) @ x, rtol=1e-14)
    assert layer.weight.grad.any()


def test_an_input_refilled_through_a_flatten_view_leaves_dw_alone():
    model, images = nn.Sequential(nn.Flatten(), lin(12, 2)), seeded(4, 3, 2, 2)
    x = images.reshape(4, 12).copy()
    model(images)
    images += 5
    model.backward(np.ones((4, 2)))
    np.testing.assert_allclose(model[1].weight.grad, np.ones((2, 4)) @ x, rtol=1e-14)


def test_the_loss_gradient_is_a_new_array_every_time():
    criterion = nn.CrossEntropyLoss()
    criterion(seeded(4, 3), np.array([0, 1, 2, 1]))
    first = criterion.backward()
    kept = first.copy()
    first *= 100
    np.testing.assert_array_equal(criterion.backward(), kept)


# --- a custom Module whose backward forgets `return` -------------------------------------------------

class ForgetsReturn(nn.Module):
    def forward(self, x):
        return x * 2

    def backward(self, dy):
        dy * 2  # no return


def test_a_backward_that_returns_nothing_is_a_type_error_not_a_silent_stop():
    model = nn.Sequential(lin(3, 3), ForgetsReturn(), lin(3, 2, 1))
    with pytest.raises(TypeError, match="ForgetsReturn.backward returned None: a backward must return"):
        model.backward(model(seeded(4, 3)))


def test_a_first_layer_without_input_gradient_still_ends_the_backward_pass():
    model = nn.Sequential(lin(3, 3), nn.Tanh(), lin(3, 2, 1))
    model[0].needs_input_grad = False
    assert model.backward(model(seeded(4, 3))) is None and model[0].weight.grad.any()


# --- registration ------------------------------------------------------------------------------------

def test_assigning_an_array_to_a_parameter_is_a_type_error():
    layer = lin(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'ndarray' as parameter 'weight' \(nn.Parameter or None"):
        layer.weight = np.zeros((2, 2))
    assert isinstance(layer.weight, nn.Parameter) and [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    with pytest.raises(TypeError, match="cannot assign 'int' as child module '0'"):
        nn.Sequential(layer).__setattr__("0", 3)
    layer.weight = nn.Parameter(np.zeros((2, 2)))  # a new Parameter is fine, as in torch
    assert not layer.weight.data.any()


def test_del_removes_a_parameter_from_state_dict_as_in_torch():
    ours, theirs = lin(2, 3), tnn.Linear(2, 3)
    del ours.bias
    del theirs.bias
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert [n for n, _ in ours.named_parameters()] == ["weight"]
    assert not hasattr(ours, "bias")


def test_mse_refuses_a_target_of_another_shape_instead_of_reshaping_it():
    with pytest.raises(ValueError, match=r"prediction \(2, 3\) and target \(3, 2\) have different shapes"):
        nn.MSELoss()(seeded(2, 3), seeded(3, 2))
    with pytest.raises(ValueError, match="different shapes"):
        nn.L1Loss()(seeded(2, 3), seeded(6))
    nn.MSELoss()(seeded(4, 1), seeded(4))  # a column against labels (N,) is the same values: accepted


# --- splits ------------------------------------------------------------------------------------------

def test_train_test_split_takes_any_real_fraction():
    x = np.arange(40).reshape(20, 2)
    for size in (np.float32(0.25), np.float64(0.25), 0.25):
        x_train, x_test = train_test_split(x, test_size=size, seed=0)
        assert (len(x_train), len(x_test)) == (15, 5)


@pytest.mark.parametrize("n, fraction", [(11, 0.5), (10, 0.25), (30, 0.05), (13, 0.3), (200, 0.2)])
def test_every_split_uses_one_rounding(n, fraction, monkeypatch):
    held_out = holdout_size(n, fraction)
    assert held_out == int(np.floor(n * fraction + 0.5))  # half up: 5.5 -> 6, 2.5 -> 3
    assert len(FunctionDataset("x", n_samples=n, val_fraction=fraction).x_val) == held_out
    assert len(train_test_split(np.zeros(n), test_size=fraction, seed=0)[1]) == held_out
    config = {"task": "classification", "n_samples": n, "val_fraction": fraction, "batch_size": 1, "epochs": 1}
    assert len(Trainer(config).task.y_val) == held_out
    monkeypatch.setattr(config_module, "MAX_STEPS", 0)  # the config's step count, read from its message
    with pytest.raises(config_module.ConfigError) as error:
        config_module.validate_config(config)
    assert int(re.search(r"would run ([\d,]+) steps", str(error.value)).group(1)) == n - held_out


# --- optimisers ----------------------------------------------------------------------------------------

def test_centered_rmsprop_stays_finite_in_float32_with_a_nearly_constant_gradient():
    p = nn.Parameter(np.zeros(1000, np.float32))
    opt = optim.RMSprop([p], lr=1e-4, centered=True)
    rng = np.random.default_rng(0)
    for _ in range(1500):  # (the square root of a negative number made every parameter NaN by step 1272)
        p.grad[...] = 1 + rng.normal(0, 1e-4, 1000).astype(np.float32)
        opt.step()
    assert np.isfinite(p.data).all()


def test_adam_in_float32_moves_with_a_huge_gradient_as_torch_does():
    p, twin = nn.Parameter(np.ones(3, np.float32)), torch.ones(3, requires_grad=True)
    opt, twin_opt = optim.Adam([p], lr=0.1), torch.optim.Adam([twin], lr=0.1)
    for _ in range(3):
        p.grad[...] = 2e19
        twin.grad = torch.full((3,), 2e19)
        opt.step()
        twin_opt.step()
    np.testing.assert_allclose(p.data, twin.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(p.data, 1 - 3 * 0.1, rtol=1e-5)  # it moved by lr each step, not frozen at 1


# --- no_grad and eval ----------------------------------------------------------------------------------

def test_no_grad_forward_keeps_nothing_and_backward_then_says_so():
    model = nn.Sequential(lin(3, 4), nn.Tanh(), lin(4, 2, 1))
    with bpnet.no_grad():
        model(seeded(5, 3))
    with pytest.raises(RuntimeError, match="no_grad"):
        model.backward(np.ones((5, 2)))


def test_a_backward_after_a_no_grad_forward_never_uses_the_previous_steps_values():
    model = nn.Sequential(lin(3, 4), nn.Tanh(), lin(4, 2, 1))
    model.backward(model(seeded(5, 3)))  # a training step
    with bpnet.no_grad():
        model(seeded(7, 3, seed=4))  # evaluation
    with pytest.raises(RuntimeError, match="no_grad"):
        model.backward(np.ones((7, 2)))


def test_an_evaluation_under_no_grad_between_forward_and_backward_changes_nothing():
    model, x = nn.Sequential(lin(3, 4), nn.BatchNorm1d(4, dtype=F64), nn.Tanh(), lin(4, 2, 1)), seeded(5, 3)
    clean = gradients(model, x)
    model.zero_grad()
    out = model(x)
    with bpnet.no_grad():
        model.eval()
        model(seeded(9, 3, seed=3))
        model.train()
    np.testing.assert_array_equal(model.backward(np.random.default_rng(7).standard_normal(out.shape)), clean[0])
    for p, g in zip(model.parameters(), clean[1]):
        np.testing.assert_array_equal(p.grad, g)


def test_eval_mode_alone_still_gives_input_gradients_as_torch():
    ours = nn.Sequential(lin(3, 4), nn.BatchNorm1d(4, dtype=F64), nn.ReLU(), nn.Dropout(0.5), lin(4, 2, 1))
    theirs = tnn.Sequential(tnn.Linear(3, 4), tnn.BatchNorm1d(4), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(4, 2))
    copy_weights(ours, theirs)
    ours(seeded(8, 3, seed=5))
    theirs(to_torch(seeded(8, 3, seed=5)))  # running statistics away from their start
    ours.eval(), theirs.eval()
    check_layer(ours, theirs, seeded(5, 3))


def test_no_grad_is_per_thread_and_restores_the_mode():
    import threading
    seen = []
    with bpnet.no_grad():
        assert not bpnet.is_grad_enabled()
        thread = threading.Thread(target=lambda: seen.append(bpnet.is_grad_enabled()))
        thread.start()
        thread.join()
        with bpnet.enable_grad():
            assert bpnet.is_grad_enabled()
        assert not bpnet.is_grad_enabled()
    assert bpnet.is_grad_enabled() and seen == [True]

    @bpnet.no_grad()
    def evaluate():
        return bpnet.is_grad_enabled()

    assert evaluate() is False and bpnet.is_grad_enabled()
    bpnet.set_grad_enabled(False)
    assert not bpnet.is_grad_enabled()
    bpnet.set_grad_enabled(True)
    assert bpnet.is_grad_enabled()
