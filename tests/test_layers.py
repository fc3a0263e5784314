"""Forward semantics of the layers, activations and losses (gradients are checked in test_gradients.py)."""
import warnings

import numpy as np
import pytest

from bpnet import nn

F64 = np.float64


def rng(seed=0):
    return np.random.default_rng(seed)


def no_float_trouble():
    """Overflow, division by zero and invalid operations raise (underflow to 0 is harmless, numpy's default)."""
    return np.errstate(over="raise", divide="raise", invalid="raise")


# --- Linear ---------------------------------------------------------------------------------------

def test_linear_weight_shape_and_affine_map():
    layer = nn.Linear(5, 3, dtype=F64, generator=0)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    x = rng().standard_normal((4, 5))
    expected = np.array([[sum(x[n, i] * layer.weight.data[o, i] for i in range(5)) + layer.bias.data[o]
                          for o in range(3)] for n in range(4)])
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)


def test_linear_without_bias():
    layer = nn.Linear(5, 3, bias=False, dtype=F64)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = rng().standard_normal((2, 5))
    np.testing.assert_allclose(layer(x), x @ layer.weight.data.T, rtol=1e-12)


def test_linear_default_init_bounds():
    layer = nn.Linear(16, 200, generator=0)
    bound = 1 / np.sqrt(16)
    for p in (layer.weight.data, layer.bias.data):
        assert np.abs(p).max() <= bound and np.abs(p).max() > 0.9 * bound


def test_linear_leading_dimensions_match_row_by_row():
    layer = nn.Linear(4, 3, dtype=F64, generator=1)
    x = rng().standard_normal((2, 5, 4))
    dy = rng(1).standard_normal((2, 5, 3))
    y = layer(x)
    dx = layer.backward(dy)
    w_grad, b_grad = layer.weight.grad.copy(), layer.bias.grad.copy()

    layer.zero_grad()
    flat_y = layer(x.reshape(10, 4))
    flat_dx = layer.backward(dy.reshape(10, 3))
    np.testing.assert_allclose(y, flat_y.reshape(2, 5, 3), rtol=1e-12)
    np.testing.assert_allclose(dx, flat_dx.reshape(2, 5, 4), rtol=1e-12)
    np.testing.assert_allclose(w_grad, layer.weight.grad, rtol=1e-12)
    np.testing.assert_allclose(b_grad, layer.bias.grad, rtol=1e-12)


def test_linear_single_sample_without_batch_dimension():
    layer = nn.Linear(4, 3, dtype=F64, generator=1)
    x, dy = rng().standard_normal(4), rng(1).standard_normal(3)
    np.testing.assert_allclose(layer(x), layer.weight.data @ x + layer.bias.data, rtol=1e-12)
    np.testing.assert_allclose(layer.backward(dy), dy @ layer.weight.data, rtol=1e-12)
    np.testing.assert_allclose(layer.weight.grad, np.outer(dy, x), rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad, dy, rtol=1e-12)


def test_linear_rejects_wrong_width():
    with pytest.raises(ValueError, match="Linear expected"):
        nn.Linear(4, 3)(np.ones((2, 5)))


# --- Conv2d and MaxPool2d against naive loops -----------------------------------------------------

def naive_conv2d(x, w, b, stride, padding):
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, wd = x.shape
    c_out, _, kh, kw = w.shape
    xp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    xp[:, :, ph:ph + h, pw:pw + wd] = x
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c_out, oh, ow))
    for i in range(n):
        for o in range(c_out):
            for r in range(oh):
                for s in range(ow):
                    total = b[o] if b is not None else 0.0
                    for ci in range(c):
                        for u in range(kh):
                            for v in range(kw):
                                total += xp[i, ci, r * sh + u, s * sw + v] * w[o, ci, u, v]
                    out[i, o, r, s] = total
    return out


CONV_CASES = [  # (in_channels, out_channels, kernel, stride, padding, input H, W)
    (1, 1, 1, 1, 0, 4, 4),
    (2, 3, 3, 1, 0, 6, 5),
    (2, 3, 3, 2, 1, 7, 6),
    (3, 2, (2, 3), (2, 1), (0, 2), 5, 6),
    (1, 2, 5, 3, 2, 8, 9),
    (2, 2, (3, 1), (1, 2), (1, 0), 4, 7),
]


@pytest.mark.parametrize("c_in,c_out,kernel,stride,padding,h,w", CONV_CASES)
def test_conv2d_matches_naive_loop(c_in, c_out, kernel, stride, padding, h, w):
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, dtype=F64, generator=3)
    x = rng().standard_normal((2, c_in, h, w))
    expected = naive_conv2d(x, conv.weight.data, conv.bias.data, conv.stride, conv.padding)
    y = conv(x)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


def test_conv2d_without_bias_matches_naive_loop():
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False, dtype=F64)
    assert conv.bias is None and conv.weight.shape == (3, 2, 3, 3)
    x = rng().standard_normal((2, 2, 4, 4))
    np.testing.assert_allclose(conv(x), naive_conv2d(x, conv.weight.data, None, (1, 1), (1, 1)), rtol=1e-10)


def naive_maxpool2d(x, kernel, stride):
    (kh, kw), (sh, sw) = kernel, stride
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.empty((n, c, oh, ow))
    for i in range(n):
        for ch in range(c):
            for r in range(oh):
                for s in range(ow):
                    out[i, ch, r, s] = max(x[i, ch, r * sh + u, s * sw + v] for u in range(kh) for v in range(kw))
    return out


@pytest.mark.parametrize("kernel,stride,h,w", [(2, None, 6, 6), (2, None, 7, 5), (3, 2, 7, 8), ((2, 3), 1, 5, 6),
                                               ((3, 2), (1, 2), 6, 7)])
def test_maxpool2d_matches_naive_loop(kernel, stride, h, w):
    pool = nn.MaxPool2d(kernel, stride)
    x = rng().standard_normal((2, 3, h, w))
    expected = naive_maxpool2d(x, pool.kernel_size, pool.stride)
    np.testing.assert_array_equal(pool(x), expected)


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_maxpool2d_backward_sends_each_gradient_to_the_first_max_of_its_window(kernel, stride):
    pool = nn.MaxPool2d(kernel, stride)
    x = rng().integers(0, 2, (2, 3, 7, 8)).astype(float)  # many ties, as after a ReLU
    dy = rng(1).standard_normal(pool(x).shape)
    (kh, kw), (sh, sw) = pool.kernel_size, pool.stride
    expected = np.zeros_like(x)
    for i, ch, r, s in np.ndindex(*dy.shape):
        window = x[i, ch, r * sh:r * sh + kh, s * sw:s * sw + kw]
        u, v = np.unravel_index(np.argmax(window), window.shape)  # first max in scan order
        expected[i, ch, r * sh + u, s * sw + v] += dy[i, ch, r, s]
    np.testing.assert_allclose(pool.backward(dy), expected, rtol=1e-12)


def test_maxpool2d_routes_a_windows_gradient_to_its_nan_like_pytorch():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    x[0, 0, 1, 0] = np.nan  # in the first window, not at its largest value
    pool = nn.MaxPool2d(2)
    assert np.isnan(pool(x)[0, 0, 0, 0])
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0, 1, 0] == 1 and dx[0, 0, :2, :2].sum() == 1  # the NaN's place, and only there
    assert dx[0, 0, 3, 3] == 1  # the other windows as usual


def test_maxpool2d_default_stride_is_kernel_size():
    assert nn.MaxPool2d(3).stride == (3, 3)


# --- Dropout --------------------------------------------------------------------------------------

def test_dropout_keeps_about_one_minus_p_and_rescales():
    p = 0.3
    x = np.ones((200, 500))
    y = nn.Dropout(p, generator=rng(1))(x)
    kept = y != 0
    assert abs(kept.mean() - (1 - p)) < 0.01  # ~7 standard deviations for 10^5 elements
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-12)


def test_dropout_mask_is_drawn_per_element():
    y = nn.Dropout(0.5, generator=rng(2))(np.ones((8, 50)))
    kept = y != 0
    assert all(not np.array_equal(kept[0], kept[i]) for i in range(1, 8))  # not one mask shared by the batch
    assert all(not np.array_equal(kept[:, 0], kept[:, j]) for j in range(1, 4))


def test_dropout_draws_a_new_mask_every_forward():
    layer = nn.Dropout(0.5, generator=rng(3))
    x = np.ones((10, 10))
    assert not np.array_equal(layer(x), layer(x))


def test_dropout_with_int_seed_draws_fresh_masks_reproducibly():
    a, b = nn.Dropout(0.5, generator=7), nn.Dropout(0.5, generator=7)
    x = np.ones((10, 10))
    first, second = a(x), a(x)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(b(x), first)
    np.testing.assert_array_equal(b(x), second)


def test_dropout_backward_uses_the_forward_mask():
    layer = nn.Dropout(0.4, generator=rng(4))
    y = layer(np.ones((20, 20)))
    np.testing.assert_array_equal(layer.backward(np.ones((20, 20))), y)


def test_dropout_is_identity_in_eval_and_with_p_zero():
    x = rng().standard_normal((6, 7))
    np.testing.assert_array_equal(nn.Dropout(0.5).eval()(x), x)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    layer = nn.Dropout(0.9).eval()
    layer(x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_keeps_dtype():
    assert nn.Dropout(0.5)(np.ones((4, 4), dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_invalid_p_raises(p):
    with pytest.raises(ValueError):
        nn.Dropout(p)


# --- BatchNorm ------------------------------------------------------------------------------------

def test_batchnorm1d_train_normalises_each_feature():
    x = rng().normal([3.0, -2.0, 10.0], [5.0, 0.5, 2.0], size=(64, 3))
    y = nn.BatchNorm1d(3, dtype=F64)(x)
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=0), 1, atol=1e-4)


def test_batchnorm_applies_weight_and_bias():
    bn = nn.BatchNorm1d(2, dtype=F64)
    bn.weight.data[:] = [2.0, -1.0]
    bn.bias.data[:] = [0.5, 3.0]
    x = rng().standard_normal((10, 2))
    xhat = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    np.testing.assert_allclose(bn(x), xhat * [2.0, -1.0] + [0.5, 3.0], rtol=1e-12)


def test_batchnorm_running_stats_use_momentum_and_unbiased_variance():
    bn = nn.BatchNorm1d(3, dtype=F64)
    mean, var = np.zeros(3), np.ones(3)
    for seed in range(3):
        x = rng(seed).normal(2.0, 3.0, size=(5, 3))
        bn(x)
        n = len(x)
        batch_mean = x.sum(0) / n
        unbiased_var = ((x - batch_mean) ** 2).sum(0) / (n - 1)
        mean = 0.9 * mean + 0.1 * batch_mean
        var = 0.9 * var + 0.1 * unbiased_var
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-12)
    assert bn.num_batches_tracked == 3


def test_batchnorm_eval_uses_running_stats_and_does_not_update_them():
    bn = nn.BatchNorm1d(2, dtype=F64)
    bn(rng(1).normal(4.0, 2.0, size=(20, 2)))
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    bn.weight.data[:] = [1.5, 0.5]
    bn.bias.data[:] = [-1.0, 2.0]
    bn.eval()
    x = rng(2).standard_normal((3, 2))
    expected = (x - mean) / np.sqrt(var + 1e-5) * [1.5, 0.5] + [-1.0, 2.0]
    np.testing.assert_allclose(bn(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)
    assert bn.num_batches_tracked == 1
    bn(np.ones((1, 2)))  # a batch of one is fine in eval mode


def test_batchnorm2d_normalises_per_channel_not_per_position():
    x = rng().standard_normal((6, 3, 4, 5)) * np.array([1.0, 4.0, 0.2])[:, None, None] + np.arange(20).reshape(4, 5)
    bn = nn.BatchNorm2d(3, dtype=F64)
    y = bn(x)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1, atol=1e-3)
    count = 6 * 4 * 5
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * var.ravel() * count / (count - 1), rtol=1e-12)


def test_batchnorm1d_on_sequences_normalises_over_batch_and_length():
    x = rng().standard_normal((4, 2, 7)) * 3 + 1
    y = nn.BatchNorm1d(2, dtype=F64)(x)
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2)), 1, atol=1e-4)


def test_batchnorm_batch_of_one_in_training_raises():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm2d(3)(np.ones((1, 3, 1, 1)))


def test_batchnorm_rejects_wrong_channels():
    with pytest.raises(ValueError):
        nn.BatchNorm2d(3)(np.ones((2, 4, 2, 2)))


# --- activations ----------------------------------------------------------------------------------

def test_softmax_rows_sum_to_one():
    y = nn.Softmax(dim=1)(rng().standard_normal((5, 4)) * 3)
    assert np.all(y > 0)
    np.testing.assert_allclose(y.sum(axis=-1), 1, rtol=1e-12)


def test_softmax_is_stable_for_huge_logits():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, -1000.0]])
    with no_float_trouble(), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = nn.Softmax(dim=1)(x)
    np.testing.assert_allclose(y, [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], atol=1e-15)


def test_sigmoid_is_stable_for_huge_inputs():
    x = np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0])
    layer = nn.Sigmoid()
    with no_float_trouble(), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = layer(x)
        dx = layer.backward(np.ones(5))
    expected = [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0]
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-300)
    # s (1 - s), as PyTorch computes it from the output: 1 - s cancels for large x, hence the absolute tolerance
    np.testing.assert_allclose(dx, [0.0, expected[1] * expected[3], 0.25, expected[1] * expected[3], 0.0],
                               rtol=1e-12, atol=1e-15)


def test_sigmoid_keeps_float32():
    assert nn.Sigmoid()(np.array([-1000.0, 0.0, 1000.0], dtype=np.float32)).dtype == np.float32


def test_leaky_relu_and_relu_values():
    x = np.array([-2.0, -0.5, 0.0, 1.5])
    np.testing.assert_array_equal(nn.ReLU()(x), [0.0, 0.0, 0.0, 1.5])
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x), [-0.2, -0.05, 0.0, 1.5], rtol=1e-15)


@pytest.mark.parametrize("make", [nn.ReLU, lambda: nn.LeakyReLU(0.2), nn.Sigmoid, nn.Tanh, lambda: nn.Softmax(dim=-1), nn.Identity])
def test_activations_leave_input_and_gradient_untouched(make):
    x = rng().standard_normal((4, 5))
    dy = rng(1).standard_normal((4, 5))
    x_copy, dy_copy = x.copy(), dy.copy()
    layer = make()
    layer(x)
    layer.backward(dy)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dy, dy_copy)


# --- losses ---------------------------------------------------------------------------------------

def test_cross_entropy_value_by_hand():
    logits = rng().standard_normal((4, 3)) * 2
    labels = np.array([2, 0, 1, 1])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.mean([np.log(probs[i, labels[i]]) for i in range(4)])
    assert nn.CrossEntropyLoss()(logits, labels) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n():
    logits = rng().standard_normal((4, 3))
    labels = np.array([2, 0, 1, 1])
    criterion = nn.CrossEntropyLoss()
    criterion(logits, labels)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(criterion.backward(), (probs - np.eye(3)[labels]) / 4, rtol=1e-12)


def test_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0], [1000.0, 1000.0]])
    labels = np.array([1, 1, 0])
    criterion = nn.CrossEntropyLoss()
    with no_float_trouble(), warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = criterion(logits, labels)
        grad = criterion.backward()
    # row 0: -(-1000 - 1000) = 2000, row 1: 0, row 2: log 2
    assert loss == pytest.approx((2000 + 0 + np.log(2)) / 3, rel=1e-12)
    np.testing.assert_allclose(grad, np.array([[1, -1], [0, 0], [-0.5, 0.5]]) / 3, atol=1e-15)


def test_cross_entropy_labels_and_one_hot_agree():
    logits = rng().standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    a, b = nn.CrossEntropyLoss(), nn.CrossEntropyLoss()
    assert a(logits, labels) == pytest.approx(b(logits, np.eye(4)[labels]), rel=1e-12)
    np.testing.assert_allclose(a.backward(), b.backward(), rtol=1e-12, atol=1e-15)


def test_cross_entropy_probability_targets_by_hand():
    logits = rng().standard_normal((3, 4))
    target = rng(1).dirichlet(np.ones(4), size=3)
    log_probs = np.log(np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(target * log_probs).sum() / 3
    assert nn.CrossEntropyLoss()(logits, target) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_the_batch_mean():
    logits = rng().standard_normal((4, 3))
    labels = np.array([2, 0, 1, 1])
    single, double = nn.CrossEntropyLoss(), nn.CrossEntropyLoss()
    loss = single(logits, labels)
    loss2 = double(np.concatenate([logits, logits]), np.concatenate([labels, labels]))
    assert loss2 == pytest.approx(loss, rel=1e-12)
    grad, grad2 = single.backward(), double.backward()
    np.testing.assert_allclose(grad2[:4], grad / 2, rtol=1e-12)
    np.testing.assert_allclose(grad2[4:], grad / 2, rtol=1e-12)


def test_loss_backward_scales_by_grad_output():
    criterion = nn.CrossEntropyLoss()
    criterion(rng().standard_normal((3, 2)), np.array([0, 1, 1]))
    np.testing.assert_allclose(criterion.backward(2.5), 2.5 * criterion.backward(), rtol=1e-15)


@pytest.mark.parametrize("labels", [[0, 3, 1], [-1, 0, 1], [0, 1, 2.0]])
def test_cross_entropy_invalid_labels_raise(labels):
    with pytest.raises(ValueError):
        nn.CrossEntropyLoss()(np.zeros((3, 3)), np.array(labels))


def test_mse_is_mean_over_all_elements():
    prediction = rng().standard_normal((4, 3))
    target = rng(1).standard_normal((4, 3))
    criterion = nn.MSELoss()
    total = sum((prediction[i, j] - target[i, j]) ** 2 for i in range(4) for j in range(3))
    assert criterion(prediction, target) == pytest.approx(total / 12, rel=1e-12)
    np.testing.assert_allclose(criterion.backward(), 2 * (prediction - target) / 12, rtol=1e-12)


def test_mse_accepts_flat_target_for_column_prediction():
    prediction = np.array([[1.0], [2.0], [4.0]])
    assert nn.MSELoss()(prediction, np.array([1.0, 0.0, 1.0])) == pytest.approx((0 + 4 + 9) / 3)


def test_mse_rejects_size_mismatch():
    with pytest.raises(ValueError):
        nn.MSELoss()(np.zeros((3, 2)), np.zeros(5))
