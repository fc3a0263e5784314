"""Every layer, container, loss and gradient utility against its PyTorch twin in float64: forward, input and
parameter gradients, with PyTorch's signatures (the tutorial lines that used to fail)."""
import numpy as np
import pytest

from bpnet import nn
from twins import check_layer, check_loss, copy_weights, one_torch_thread, seeded, tnn, to_torch, torch  # noqa: F401

F64 = np.float64


def lin(i, o, seed=0):
    return nn.Linear(i, o, dtype=F64, generator=seed)


# --- signatures of tutorial code ----------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.ReLU(inplace=True), lambda: tnn.ReLU(inplace=True)),
    (lambda: nn.LeakyReLU(0.1, inplace=True), lambda: tnn.LeakyReLU(0.1, inplace=True)),
    (lambda: nn.ELU(0.5, inplace=True), lambda: tnn.ELU(0.5, inplace=True)),
    (lambda: nn.SiLU(inplace=True), lambda: tnn.SiLU(inplace=True)),
    (lambda: nn.Dropout(0.3, inplace=True).eval(), lambda: tnn.Dropout(0.3, inplace=True).eval()),
], ids=["relu", "leaky_relu", "elu", "silu", "dropout_eval"])
def test_inplace_activations_accept_the_flag_and_give_torchs_result(ours, theirs):
    # after a Linear, as in a tutorial (torch refuses an in-place op on a leaf that requires grad)
    check_layer(nn.Sequential(lin(4, 6), ours()), tnn.Sequential(tnn.Linear(4, 6), theirs()), seeded(5, 4, scale=2))


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("ours, theirs", [(nn.Softmax, tnn.Softmax), (nn.LogSoftmax, tnn.LogSoftmax)])
def test_softmax_and_log_softmax_along_any_dim(ours, theirs, dim):
    check_layer(ours(dim=dim), theirs(dim=dim), seeded(3, 4, 5, scale=3))


@pytest.mark.parametrize("shape", [(4, 6), (2, 3, 4)])
def test_softmax_without_dim_picks_torchs_implicit_dim_with_its_warning(shape):
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        check_layer(nn.Softmax(), tnn.Softmax(), seeded(*shape))


@pytest.mark.parametrize("start, end", [(1, -1), (0, 1), (2, 3), (-3, -2), (0, -1)])
def test_flatten_start_and_end_dim(start, end):
    out, _ = check_layer(nn.Flatten(start, end), tnn.Flatten(start, end), seeded(2, 3, 4, 5))
    assert out.shape == tnn.Flatten(start, end)(torch.zeros(2, 3, 4, 5)).shape


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")  # (torch's, about its speed)
@pytest.mark.parametrize("kernel", [3, 4, (2, 5)])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv2d_same_and_valid_padding(kernel, padding):
    ours = nn.Conv2d(2, 3, kernel, padding=padding, dtype=F64, generator=0)
    out, _ = check_layer(ours, tnn.Conv2d(2, 3, kernel, padding=padding), seeded(2, 2, 7, 6))
    if padding == "same":
        assert out.shape[2:] == (7, 6)


def test_conv2d_same_padding_refuses_a_stride_as_torch_does():
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")


def test_batchnorm_with_momentum_none_keeps_the_cumulative_average():
    ours, theirs = nn.BatchNorm1d(3, momentum=None, dtype=F64), tnn.BatchNorm1d(3, momentum=None)
    copy_weights(ours, theirs)
    for seed in range(4):
        x = seeded(8, 3, seed=seed, scale=seed + 1) + seed
        check_layer(ours, theirs, x)  # (the running statistics are compared too)
    ours.eval(), theirs.eval()
    check_layer(ours, theirs, seeded(5, 3, seed=9))


# --- layers a learner meets next ------------------------------------------------------------------

@pytest.mark.parametrize("ours, theirs", [
    (lambda: nn.GELU(), lambda: tnn.GELU()),
    (lambda: nn.GELU(approximate="tanh"), lambda: tnn.GELU(approximate="tanh")),
    (lambda: nn.ELU(), lambda: tnn.ELU()),
    (lambda: nn.ELU(alpha=0.3), lambda: tnn.ELU(alpha=0.3)),
    (lambda: nn.SiLU(), lambda: tnn.SiLU()),
    (lambda: nn.Softplus(), lambda: tnn.Softplus()),
    (lambda: nn.Softplus(beta=2.0, threshold=5.0), lambda: tnn.Softplus(beta=2.0, threshold=5.0)),
    (lambda: nn.Identity(54, unused="argument"), lambda: tnn.Identity(54, unused="argument")),
], ids=["gelu", "gelu_tanh", "elu", "elu_alpha", "silu", "softplus", "softplus_beta_threshold", "identity"])
def test_activations(ours, theirs):
    check_layer(ours(), theirs(), seeded(6, 7, scale=4))  # (|x| up to ~12: past Softplus's threshold too)


def test_activations_at_extreme_inputs():
    x = np.array([[-800.0, -40.0, -1e-8, 0.0, 1e-8, 40.0, 800.0]])
    for ours, theirs in [(nn.GELU(), tnn.GELU()), (nn.ELU(), tnn.ELU()), (nn.SiLU(), tnn.SiLU()),
                         (nn.Softplus(), tnn.Softplus()), (nn.Sigmoid(), tnn.Sigmoid()), (nn.Tanh(), tnn.Tanh())]:
        check_layer(ours, theirs, x)


@pytest.mark.parametrize("shape, x_shape, kwargs", [
    (5, (4, 5), {}), ((3, 4), (2, 6, 3, 4), {}), (6, (3, 2, 6), {"eps": 1e-3}),
    (5, (4, 5), {"elementwise_affine": False}), ((2, 3), (4, 2, 3), {"bias": False}),
])
def test_layernorm(shape, x_shape, kwargs):
    ours, theirs = nn.LayerNorm(shape, dtype=F64, **kwargs), tnn.LayerNorm(shape, **kwargs)
    for p in ours.parameters():  # away from the identity affine map
        p.data[...] = seeded(*p.shape, seed=3)
    check_layer(ours, theirs, seeded(*x_shape, scale=3) + 1)


@pytest.mark.parametrize("args, kwargs", [
    ((2,), {}), ((3, 2), {}), ((3, 2, 1), {}), ((3, 2, 1), {"count_include_pad": False}),
    (((2, 3), 1), {}), ((2,), {"divisor_override": 3}), ((3, 1, 1), {"divisor_override": 2}),
])
def test_avgpool2d(args, kwargs):
    check_layer(nn.AvgPool2d(*args, **kwargs), tnn.AvgPool2d(*args, **kwargs), seeded(2, 3, 7, 8))


@pytest.mark.parametrize("args", [(2,), (3, 2), (3, 2, 1), ((2, 3), 1, (1, 1))])
def test_maxpool2d_with_padding(args):
    check_layer(nn.MaxPool2d(*args), tnn.MaxPool2d(*args), seeded(2, 3, 7, 8))


class OursTower(nn.Module):
    """A ModuleList of blocks, applied in a loop by hand (forward and backward)."""

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([lin(4, 4, seed) for seed in range(3)])
        self.act = nn.Tanh()

    def forward(self, x):
        for block in self.blocks:
            x = self.act(block(x))
        return x

    def backward(self, dy):
        for block in reversed(self.blocks):
            dy = block.backward(self.act.backward(dy))
        return dy


class TheirTower(tnn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = tnn.ModuleList([tnn.Linear(4, 4) for _ in range(3)])
        self.act = tnn.Tanh()

    def forward(self, x):
        for block in self.blocks:
            x = self.act(block(x))
        return x


def test_modulelist_registers_its_modules_like_torchs():
    ours, theirs = OursTower(), TheirTower()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    check_layer(ours, theirs, seeded(5, 4))  # (one Tanh used three times per forward, too)


def test_module_tree_methods_name_and_order_like_torch():
    def build(lib, linear, bn):
        shared = lib.Tanh()
        return lib.Sequential(linear(2, 3), shared, lib.Sequential(linear(3, 3), bn(3), shared), linear(3, 1))

    ours, theirs = build(nn, lambda i, o: lin(i, o), nn.BatchNorm1d), build(tnn, tnn.Linear, tnn.BatchNorm1d)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert len(ours.buffers()) == len(list(theirs.buffers())) == 3
    assert list(ours.state_dict()) == list(theirs.state_dict())
    visited = ([], [])
    ours.apply(lambda m: visited[0].append(type(m).__name__))
    theirs.apply(lambda m: visited[1].append(type(m).__name__))
    assert visited[0] == visited[1]


def test_add_module_register_parameter_and_requires_grad_like_torch():
    ours, theirs = nn.Module(), tnn.Module()
    ours.add_module("body", lin(3, 2))
    theirs.add_module("body", tnn.Linear(3, 2))
    ours.register_parameter("scale", nn.Parameter(np.full(2, 1.5)))
    theirs.register_parameter("scale", tnn.Parameter(torch.full((2,), 1.5, dtype=torch.float64)))
    ours.forward = lambda x: ours.body(x) * ours.scale.data
    ours.backward = lambda dy: ours.body.backward(dy * ours.scale.data)  # (scale's own gradient not needed here)
    theirs.forward = lambda x: theirs.body(x) * theirs.scale
    ours.scale.requires_grad_(False)
    theirs.scale.requires_grad_(False)
    ours.body.requires_grad_(False)  # frozen: no gradient accumulated, as in torch (its grads stay None)
    theirs.body.requires_grad_(False)
    check_layer(ours, theirs, seeded(4, 3))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


# --- losses -----------------------------------------------------------------------------------------

REDUCTIONS = ["mean", "sum", "none"]
LOGITS = seeded(6, 4, seed=5, scale=3)
LABELS = np.array([0, 3, 1, 1, 2, 3])
PROBS = np.random.default_rng(4).dirichlet(np.ones(4), size=6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses(name, reduction):
    prediction, target = seeded(5, 3), seeded(5, 3, seed=2)
    target[0, 0] = prediction[0, 0]  # L1's gradient at 0 is 0, as torch's sign
    check_loss(getattr(nn, name)(reduction=reduction), getattr(tnn, name)(reduction=reduction), prediction, target)


CE_OPTIONS = {"plain": {}, "weight": {"weight": np.array([0.5, 2.0, 1.0, 0.1])}, "ignore_index": {"ignore_index": 1},
              "label_smoothing": {"label_smoothing": 0.2},
              "all": {"weight": np.array([0.5, 2.0, 1.0, 0.1]), "ignore_index": 3, "label_smoothing": 0.1}}
CE_CASES = [(f"{name}-{kind}", options, target) for name, options in CE_OPTIONS.items()
            for kind, target in (("labels", LABELS), ("probabilities", PROBS))
            if not (kind == "probabilities" and "ignore_index" in options)]  # (ignore_index: labels only)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", CE_CASES, ids=[c[0] for c in CE_CASES])
def test_cross_entropy_options(case, reduction):
    _, kwargs, target = case
    theirs_kwargs = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    check_loss(nn.CrossEntropyLoss(reduction=reduction, **kwargs),
               tnn.CrossEntropyLoss(reduction=reduction, **theirs_kwargs), LOGITS, target)


def test_cross_entropy_with_every_label_ignored_is_nan_as_torchs():
    check_loss(nn.CrossEntropyLoss(), tnn.CrossEntropyLoss(), LOGITS[:2], np.array([-100, -100]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, np.array([0.5, 2.0, 1.0, 0.1])])
@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_nll_loss(reduction, weight, ignore_index):
    theirs_weight = None if weight is None else torch.from_numpy(weight)
    log_probs = nn.LogSoftmax(dim=1)(LOGITS)
    check_loss(nn.NLLLoss(weight, ignore_index, reduction), tnn.NLLLoss(theirs_weight, ignore_index=ignore_index,
                                                                        reduction=reduction), log_probs, LABELS)


def test_log_softmax_then_nll_equals_cross_entropy():
    ce, nll, log_softmax = nn.CrossEntropyLoss(), nn.NLLLoss(), nn.LogSoftmax(dim=1)
    assert nll(log_softmax(LOGITS), LABELS) == pytest.approx(ce(LOGITS, LABELS), rel=1e-14)
    np.testing.assert_allclose(log_softmax.backward(nll.backward()), ce.backward(), rtol=1e-12, atol=1e-15)


BINARY_TARGET = (np.random.default_rng(6).random((5, 3)) > 0.5).astype(float)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, np.array([0.5, 2.0, 1.0])])
def test_bce_loss(reduction, weight):
    p = nn.Sigmoid()(seeded(5, 3, scale=2))
    p[0, 0] = 0.0  # log(0) clamped at -100, as in torch
    theirs_weight = None if weight is None else torch.from_numpy(weight)
    check_loss(nn.BCELoss(weight, reduction), tnn.BCELoss(theirs_weight, reduction=reduction), p, BINARY_TARGET)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, np.array([0.5, 2.0, 1.0])])
@pytest.mark.parametrize("pos_weight", [None, np.array([3.0, 0.5, 1.0])])
def test_bce_with_logits_loss(reduction, weight, pos_weight):
    torch_or_none = lambda a: None if a is None else torch.from_numpy(a)  # noqa: E731
    check_loss(nn.BCEWithLogitsLoss(weight, reduction, pos_weight),
               tnn.BCEWithLogitsLoss(torch_or_none(weight), reduction=reduction, pos_weight=torch_or_none(pos_weight)),
               seeded(5, 3, scale=3), BINARY_TARGET)


def test_bce_with_logits_is_stable_at_huge_logits():
    logits = np.array([[800.0, -800.0, 800.0, -800.0, 0.0]])
    target = np.array([[1.0, 0.0, 0.0, 1.0, 1.0]])
    loss, grad = check_loss(nn.BCEWithLogitsLoss(reduction="none"), tnn.BCEWithLogitsLoss(reduction="none"),
                            logits, target)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))


def test_losses_keep_float32():
    p32 = seeded(4, 3).astype(np.float32)
    for loss, target in [(nn.MSELoss(), p32 * 0), (nn.L1Loss(), p32 * 0), (nn.CrossEntropyLoss(), np.arange(4) % 3),
                         (nn.CrossEntropyLoss(label_smoothing=0.1, weight=[1, 2, 3]), np.arange(4) % 3),
                         (nn.NLLLoss(), np.arange(4) % 3), (nn.BCEWithLogitsLoss(), p32 > 0),
                         (nn.BCELoss(), p32 > 0)]:
        prediction = nn.Sigmoid()(p32) if isinstance(loss, nn.BCELoss) else p32
        loss(prediction, target.astype(np.float32) if target.dtype == bool else target)
        assert loss.backward().dtype == np.float32, type(loss).__name__


# --- gradient utilities --------------------------------------------------------------------------

@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_returns_the_total_norm_and_scales_like_torch(norm_type, max_norm):
    ours = nn.Sequential(lin(3, 4), nn.Tanh(), lin(4, 2, seed=1))
    theirs = copy_weights(ours, tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh(), tnn.Linear(4, 2)))
    x = seeded(5, 3, scale=3)
    ours.backward(ours(x) * 10)
    out = theirs(to_torch(x))
    out.backward(out.detach() * 10)
    total = nn.utils.clip_grad_norm_(ours.parameters(), max_norm, norm_type)
    assert total == pytest.approx(tnn.utils.clip_grad_norm_(theirs.parameters(), max_norm, norm_type).item(),
                                  rel=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_like_torch():
    ours = lin(3, 4)
    theirs = copy_weights(ours, tnn.Linear(3, 4))
    x = seeded(5, 3, scale=3)
    ours.backward(ours(x))
    out = theirs(to_torch(x))
    out.backward(out.detach())
    nn.utils.clip_grad_value_(ours.parameters(), 0.7)
    tnn.utils.clip_grad_value_(theirs.parameters(), 0.7)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.grad, q.grad.numpy())
    assert np.abs(ours.weight.grad).max() == 0.7
