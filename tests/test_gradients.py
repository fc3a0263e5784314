"""Every layer, activation and loss: backward equals central differences (float64, relative error < 1e-6)."""
import numpy as np
import pytest

from bpnet import nn
from gradcheck import gradcheck, gradcheck_loss

F64 = np.float64


def data(*shape, seed=1, away_from_zero=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    if away_from_zero:  # keep kinks (ReLU at 0) out of the finite-difference step
        x += np.sign(x) * 0.1
    return x


def test_linear():
    gradcheck(nn.Linear(5, 3, dtype=F64), data(4, 5))


def test_linear_without_bias():
    gradcheck(nn.Linear(5, 3, bias=False, dtype=F64), data(4, 5))


@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), ((2, 1), (0, 2))])
def test_conv2d(stride, padding):
    gradcheck(nn.Conv2d(2, 3, 3, stride=stride, padding=padding, dtype=F64), data(2, 2, 7, 6))


def test_conv2d_rectangular_kernel():
    gradcheck(nn.Conv2d(3, 2, (2, 3), dtype=F64), data(2, 3, 5, 5))


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), ((2, 3), 1)])
def test_maxpool2d(kernel, stride):
    gradcheck(nn.MaxPool2d(kernel, stride), data(2, 3, 7, 8))


def test_flatten():
    gradcheck(nn.Flatten(), data(3, 2, 4, 4))


@pytest.mark.parametrize("make", [nn.ReLU, lambda: nn.LeakyReLU(0.1), nn.Sigmoid, nn.Tanh, lambda: nn.Softmax(dim=1), nn.Identity])
def test_activation(make):
    gradcheck(make(), data(4, 6, away_from_zero=True) * 3)


@pytest.mark.parametrize("make", [nn.GELU, lambda: nn.GELU(approximate="tanh"), nn.ELU, lambda: nn.ELU(0.4),
                                  nn.SiLU, nn.Softplus, lambda: nn.Softplus(beta=0.5, threshold=1.0),
                                  lambda: nn.Softmax(dim=0), lambda: nn.LogSoftmax(dim=1),
                                  lambda: nn.LogSoftmax(dim=0)])
def test_more_activations(make):
    gradcheck(make(), data(4, 6, away_from_zero=True) * 3)


@pytest.mark.parametrize("shape, x_shape, kwargs", [(6, (4, 6), {}), ((2, 3), (3, 4, 2, 3), {}),
                                                    (5, (3, 5), {"elementwise_affine": False}),
                                                    (5, (3, 5), {"bias": False})])
def test_layernorm(shape, x_shape, kwargs):
    layer = nn.LayerNorm(shape, dtype=F64, **kwargs)
    for p in layer.parameters():
        p.data[...] = data(*p.shape, seed=4)
    gradcheck(layer, data(*x_shape) * 2 + 1)


@pytest.mark.parametrize("args, kwargs", [((2,), {}), ((3, 2, 1), {}), ((3, 2, 1), {"count_include_pad": False}),
                                          (((2, 3), 1), {"divisor_override": 5})])
def test_avgpool2d(args, kwargs):
    gradcheck(nn.AvgPool2d(*args, **kwargs), data(2, 3, 7, 8))


def test_maxpool2d_with_padding():
    gradcheck(nn.MaxPool2d(3, 2, 1), data(2, 3, 7, 8))


@pytest.mark.parametrize("kernel", [(2, 4), 3])
def test_conv2d_same_padding(kernel):
    gradcheck(nn.Conv2d(2, 3, kernel, padding="same", dtype=F64), data(2, 2, 5, 6))


def test_flatten_a_middle_range():
    gradcheck(nn.Flatten(1, 2), data(3, 2, 4, 5))


def test_batchnorm1d_train():
    bn = nn.BatchNorm1d(4, dtype=F64)
    bn.weight.data[:] = [0.5, 2.0, -1.0, 1.5]
    bn.bias.data[:] = [0.1, -0.2, 0.3, 0.0]
    gradcheck(bn, data(6, 4) * 2 + 1)


def test_batchnorm1d_3d_input():
    gradcheck(nn.BatchNorm1d(3, dtype=F64), data(4, 3, 5))


def test_batchnorm2d_train():
    bn = nn.BatchNorm2d(3, dtype=F64)
    bn.weight.data[:] = [0.5, 2.0, -1.0]
    gradcheck(bn, data(4, 3, 3, 2) * 3 - 1)


def test_batchnorm_eval_uses_running_statistics():
    bn = nn.BatchNorm2d(3, dtype=F64)
    bn(data(8, 3, 4, 4, seed=5) * 2 + 1)
    gradcheck(bn.eval(), data(4, 3, 3, 2))


class FixedMaskDropout(nn.Dropout):
    """Dropout that draws the same mask on every forward, so finite differences see one function."""

    def forward(self, x):
        self.generator = np.random.default_rng(42)
        return super().forward(x)


def test_dropout_fixed_mask():
    layer = FixedMaskDropout(0.4)
    gradcheck(layer, data(5, 8))
    mask, = layer.saved_tensors
    assert 0 < np.count_nonzero(mask) < mask.size


def test_whole_network():
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, bias=False, dtype=F64), nn.BatchNorm2d(2, dtype=F64), nn.Tanh(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * 3 * 3, 4, dtype=F64), nn.Sigmoid(), nn.Linear(4, 3, dtype=F64),
    )
    gradcheck(net, data(3, 1, 6, 6))


def test_mse_loss():
    gradcheck_loss(nn.MSELoss(), data(4, 3), data(4, 3, seed=2))


def test_cross_entropy_labels():
    gradcheck_loss(nn.CrossEntropyLoss(), data(5, 4) * 3, np.array([0, 3, 1, 1, 2]))


def test_cross_entropy_probabilities():
    target = np.random.default_rng(3).dirichlet(np.ones(4), size=5)
    gradcheck_loss(nn.CrossEntropyLoss(), data(5, 4) * 3, target)


def test_cross_entropy_one_hot():
    gradcheck_loss(nn.CrossEntropyLoss(), data(5, 4), np.eye(4)[[0, 3, 1, 1, 2]])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_l1_loss(reduction):
    gradcheck_loss(nn.L1Loss(reduction=reduction), data(4, 3, away_from_zero=True), np.zeros((4, 3)))


@pytest.mark.parametrize("kwargs", [{"reduction": "sum"}, {"weight": [0.3, 1.0, 2.0, 0.5]}, {"ignore_index": 1},
                                    {"label_smoothing": 0.15, "weight": [0.3, 1.0, 2.0, 0.5]}])
def test_cross_entropy_options(kwargs):
    gradcheck_loss(nn.CrossEntropyLoss(**kwargs), data(5, 4) * 3, np.array([0, 3, 1, 1, 2]))


def test_nll_loss():
    gradcheck_loss(nn.NLLLoss(weight=[0.3, 1.0, 2.0, 0.5], ignore_index=2), data(5, 4), np.array([0, 3, 1, 2, 2]))


def test_bce_loss():
    p = 1 / (1 + np.exp(-data(4, 3)))
    gradcheck_loss(nn.BCELoss(weight=[1.0, 0.5, 2.0]), p, (data(4, 3, seed=3) > 0).astype(float))


@pytest.mark.parametrize("pos_weight", [None, [2.0, 0.5, 1.0]])
def test_bce_with_logits_loss(pos_weight):
    target = (data(4, 3, seed=3) > 0).astype(float)
    gradcheck_loss(nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="sum"), data(4, 3) * 3, target)
