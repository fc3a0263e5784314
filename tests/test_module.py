"""Parameter, Module and Sequential: naming, gradient accumulation, modes, state_dict, dtype and seeding."""
import numpy as np
import pytest

import bpnet
from bpnet import nn

F64 = np.float64


@pytest.fixture
def restore_default_dtype():
    old = bpnet.get_default_dtype()
    try:
        yield
    finally:
        bpnet.set_default_dtype(old)


def mlp(seed=0):
    """Linear-Tanh-Linear in float64, seeded."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 4, dtype=F64, generator=rng), nn.Tanh(),
                         nn.Linear(4, 2, dtype=F64, generator=rng))


def bn_model(seed):
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(4, 6, dtype=F64, generator=rng), nn.BatchNorm1d(6, dtype=F64), nn.ReLU(),
        nn.Dropout(0.5, generator=rng), nn.Linear(6, 3, dtype=F64, generator=rng),
    )


def one_backward(model, x, target):
    criterion = nn.MSELoss()
    criterion(model(x), target)
    model.backward(criterion.backward())


# --- Parameter ----------------------------------------------------------------------------------

def test_parameter_grad_matches_data_and_starts_at_zero():
    p = nn.Parameter(np.arange(6.0).reshape(2, 3), F64)
    assert p.grad.shape == p.data.shape == (2, 3)
    assert p.grad.dtype == p.data.dtype == F64
    assert not np.any(p.grad)


def test_parameter_zero_grad_clears_in_place():
    p = nn.Parameter(np.ones(3))
    grad = p.grad
    grad += 2.0
    p.zero_grad()
    assert p.grad is grad and not np.any(grad)


def test_parameter_copies_its_input():
    source = np.ones(3)
    p = nn.Parameter(source)
    p.data[0] = 5.0
    assert source[0] == 1.0


# --- naming and traversal -----------------------------------------------------------------------

def test_named_parameters_use_pytorch_dotted_names():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_parameters_in_nested_sequentials():
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.2.weight", "1.2.bias"]


def test_parameters_order_matches_named_parameters_and_layers():
    first, second = nn.Linear(2, 3), nn.Linear(3, 1, bias=False)
    model = nn.Sequential(first, nn.Sigmoid(), second)
    params = model.parameters()
    assert len(params) == 3
    assert params[0] is first.weight and params[1] is first.bias and params[2] is second.weight
    assert all(a is b for a, (_, b) in zip(params, model.named_parameters()))


def test_replacing_a_parameter_keeps_its_position():
    layer = nn.Linear(2, 3)
    layer.weight = nn.Parameter(np.zeros((3, 2)))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(layer.state_dict()["weight"], 0)


def test_tied_parameter_is_listed_once_and_updated_once():
    first, second = nn.Linear(3, 3, dtype=F64, generator=0), nn.Linear(3, 3, dtype=F64, generator=1)
    second.weight = first.weight
    model = nn.Sequential(first, nn.Tanh(), second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.bias"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch saves it
    w0 = first.weight.data.copy()
    one_backward(model, np.ones((2, 3)), np.zeros((2, 3)))
    grad = first.weight.grad.copy()  # both uses accumulate into the one array
    bpnet.optim.SGD(model.parameters(), lr=0.1).step()
    np.testing.assert_allclose(first.weight.data, w0 - 0.1 * grad, rtol=1e-15)
    assert second.weight is first.weight


# --- gradients ----------------------------------------------------------------------------------

def test_zero_grad_clears_every_gradient_in_place():
    model = mlp()
    one_backward(model, np.ones((5, 3)), np.zeros((5, 2)))
    grads = [p.grad for p in model.parameters()]
    assert all(np.any(g) for g in grads)
    model.zero_grad()
    assert all(p.grad is g and not np.any(g) for p, g in zip(model.parameters(), grads))


def test_gradients_accumulate_until_zero_grad():
    model = mlp()
    x = np.random.default_rng(1).standard_normal((5, 3))
    target = np.random.default_rng(2).standard_normal((5, 2))
    one_backward(model, x, target)
    once = [p.grad.copy() for p in model.parameters()]
    one_backward(model, x, target)
    for p, g in zip(model.parameters(), once):
        np.testing.assert_array_equal(p.grad, 2 * g)
    model.zero_grad()
    one_backward(model, x, target)
    for p, g in zip(model.parameters(), once):
        np.testing.assert_array_equal(p.grad, g)


def test_backward_writes_into_the_same_grad_arrays():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, dtype=F64), nn.BatchNorm2d(2, dtype=F64), nn.ReLU(),
                          nn.Flatten(), nn.Linear(2 * 4 * 4, 3, dtype=F64))
    before = [p.grad for p in model.parameters()]
    criterion = nn.CrossEntropyLoss()
    criterion(model(np.random.default_rng(0).standard_normal((4, 1, 6, 6))), np.array([0, 1, 2, 1]))
    model.backward(criterion.backward())
    assert all(p.grad is g for p, g in zip(model.parameters(), before))
    assert all(np.any(g) for g in before)


def test_backward_before_forward_raises_clear_error():
    with pytest.raises(RuntimeError, match="Linear.backward called before forward"):
        nn.Linear(2, 3).backward(np.ones((1, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Sequential(nn.Linear(2, 3), nn.ReLU()).backward(np.ones((1, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.CrossEntropyLoss().backward()


# --- train / eval -------------------------------------------------------------------------------

def test_train_and_eval_set_training_flag_recursively():
    inner = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model = nn.Sequential(nn.Linear(2, 2), inner, nn.BatchNorm1d(2))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert len(list(model.modules())) == 6
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not inner[1].training


# --- state_dict ---------------------------------------------------------------------------------

def test_state_dict_has_parameters_and_buffers_with_pytorch_keys():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 1))
    assert list(model.state_dict()) == [
        "0.weight", "0.bias",
        "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
        "3.weight", "3.bias",
    ]


def test_state_dict_holds_copies():
    model = nn.Sequential(nn.Linear(2, 3))
    state = model.state_dict()
    state["0.weight"][...] = 7.0
    assert not np.any(model[0].weight.data == 7.0)


def test_state_dict_round_trips_through_npz(tmp_path):
    rng = np.random.default_rng(0)
    model = bn_model(seed=1)
    for _ in range(3):  # move the running statistics away from their initial values
        model(rng.standard_normal((16, 4)) * 2 + 1)
    np.savez(tmp_path / "model.npz", **model.state_dict())

    fresh = bn_model(seed=2)
    x = rng.standard_normal((8, 4))
    model.eval()
    fresh.eval()
    assert not np.allclose(fresh(x), model(x))
    with np.load(tmp_path / "model.npz") as saved:
        fresh.load_state_dict(saved)
    np.testing.assert_array_equal(fresh(x), model(x))
    assert fresh[1].num_batches_tracked == 3
    np.testing.assert_array_equal(fresh[1].running_var, model[1].running_var)


def test_load_state_dict_copies_in_place():
    model = nn.Sequential(nn.Linear(2, 3))
    weight = model[0].weight.data
    model.load_state_dict({"0.weight": np.ones((3, 2)), "0.bias": np.zeros(3)})
    assert model[0].weight.data is weight
    np.testing.assert_array_equal(weight, np.ones((3, 2)))


def test_load_state_dict_reports_missing_key():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    state = model.state_dict()
    del state["1.running_var"]
    with pytest.raises(KeyError, match=r"missing keys: 1\.running_var"):
        model.load_state_dict(state)


def test_load_state_dict_reports_unexpected_key():
    model = nn.Sequential(nn.Linear(2, 3))
    state = model.state_dict()
    state["5.weight"] = np.zeros(3)
    with pytest.raises(KeyError, match=r"unexpected keys: 5\.weight"):
        model.load_state_dict(state)


def test_load_state_dict_reports_shape_mismatch_and_changes_nothing():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = model.state_dict()
    state = model.state_dict()
    state["0.bias"] = np.zeros(3)
    state["1.weight"] = np.zeros((3, 1))
    with pytest.raises(KeyError, match=r"1\.weight.*\(1, 3\).*\(3, 1\)"):
        model.load_state_dict(state)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


# --- repr ---------------------------------------------------------------------------------------

def test_repr_is_readable():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Dropout(0.25)))
    assert "Linear(in_features=2, out_features=3, bias=True)" in text
    assert "(0): Linear" in text and "(1): ReLU()" in text and "(2): Dropout(p=0.25)" in text
    assert text.startswith("Sequential(") and text.endswith(")")


# --- dtype --------------------------------------------------------------------------------------

def test_float32_is_the_default_dtype():
    assert bpnet.get_default_dtype() is np.float32
    assert nn.Linear(2, 3).weight.data.dtype == np.float32


def test_set_default_dtype_float64(restore_default_dtype):
    bpnet.set_default_dtype(np.float64)
    assert bpnet.get_default_dtype() is np.float64
    for layer in (nn.Linear(2, 3), nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)):
        assert all(p.data.dtype == np.float64 for p in layer.parameters())
    assert nn.BatchNorm1d(2).running_mean.dtype == np.float64
    assert nn.Linear(2, 3)(np.ones((1, 2), dtype=np.float32)).dtype == np.float64


def test_dtype_argument_overrides_default(restore_default_dtype):
    bpnet.set_default_dtype(np.float64)
    layer = nn.Linear(2, 3, dtype=np.float32)
    assert layer.weight.data.dtype == layer.bias.data.dtype == np.float32
    bpnet.set_default_dtype(np.float32)
    assert nn.BatchNorm1d(2, dtype=np.float64).running_var.dtype == np.float64


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex128])
def test_invalid_dtype_raises(dtype, restore_default_dtype):
    with pytest.raises(ValueError, match="float32 or np.float64"):
        bpnet.set_default_dtype(dtype)
    with pytest.raises(ValueError):
        nn.Linear(2, 3, dtype=dtype)


# --- seeding ------------------------------------------------------------------------------------

def test_manual_seed_makes_initial_weights_identical():
    bpnet.manual_seed(123)
    a = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(1, 2, 3))
    bpnet.manual_seed(123)
    b = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(1, 2, 3))
    bpnet.manual_seed(124)
    c = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(1, 2, 3))
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)
        assert not np.array_equal(pa.data, pc.data)


def test_generator_argument_gives_identical_weights_and_leaves_global_stream_alone():
    a = nn.Linear(3, 4, generator=np.random.default_rng(7))
    b = nn.Linear(3, 4, generator=np.random.default_rng(7))
    c = nn.Linear(3, 4, generator=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.weight.data, c.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)

    bpnet.manual_seed(5)
    expected = nn.Linear(3, 4).weight.data
    bpnet.manual_seed(5)
    nn.Linear(3, 4, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(nn.Linear(3, 4).weight.data, expected)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_manual_seed_rejects_invalid_seeds(seed):
    with pytest.raises(ValueError):
        bpnet.manual_seed(seed)


# --- containers and registration ----------------------------------------------------------------

def test_sequential_from_an_ordered_dict_keeps_the_names():
    from collections import OrderedDict
    model = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU(), out=nn.Linear(3, 1)))
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert isinstance(model[1], nn.ReLU) and [type(m).__name__ for m in model[1:]] == ["ReLU", "Linear"]
    assert list(model[1:]._modules) == ["act", "out"]


def test_modulelist_append_insert_index_and_delete():
    blocks = nn.ModuleList([nn.Linear(2, 2), nn.Tanh()])
    blocks.append(nn.ReLU())
    blocks.insert(0, nn.Identity())
    blocks += [nn.Sigmoid()]
    assert [type(m).__name__ for m in blocks] == ["Identity", "Linear", "Tanh", "ReLU", "Sigmoid"]
    assert isinstance(blocks[-1], nn.Sigmoid) and isinstance(blocks[1:3], nn.ModuleList) and len(blocks) == 5
    del blocks[0]
    assert list(blocks._modules) == ["0", "1", "2", "3"] and isinstance(blocks[0], nn.Linear)
    blocks[1] = nn.ELU()
    assert isinstance(blocks[1], nn.ELU)
    with pytest.raises(IndexError, match="out of range"):
        blocks[7]
    with pytest.raises(TypeError, match="takes Modules"):
        blocks.append(np.zeros(2))


def test_register_buffer_and_parameter_check_what_they_get():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="numpy.ndarray or None expected"):
        layer.register_buffer("stats", [1, 2])
    with pytest.raises(TypeError, match="nn.Parameter or None expected"):
        layer.register_parameter("scale", np.ones(2))
    with pytest.raises(KeyError, match="without '.'"):
        layer.add_module("a.b", nn.ReLU())
    with pytest.raises(KeyError, match="already exists"):
        layer.register_parameter("in_features", nn.Parameter(np.ones(1)))
    layer.register_buffer("stats", np.zeros(2))
    with pytest.raises(TypeError, match="as buffer 'stats'"):
        layer.stats = 3.0
    assert list(layer.state_dict()) == ["weight", "bias", "stats"]


def test_a_frozen_layer_passes_the_gradient_on_but_keeps_none():
    layer = nn.Linear(3, 2, dtype=F64, generator=0).requires_grad_(False)
    assert not layer.weight.requires_grad and "requires_grad=False" in repr(layer.weight)
    dx = layer.backward(layer(np.ones((4, 3))) * 0 + 1)
    np.testing.assert_allclose(dx, np.ones((4, 2)) @ layer.weight.data, rtol=1e-14)
    assert not layer.weight.grad.any() and not layer.bias.grad.any()
    with pytest.raises(TypeError, match="True or False"):
        layer.weight.requires_grad = "no"


def test_apply_visits_children_first_and_returns_the_module():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Linear", "Sequential", "Sequential"]
