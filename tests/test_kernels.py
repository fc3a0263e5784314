"""The layers' compiled loops (bpnet/nn/kernels.py, numba) give bitwise the results of their numpy references:
outputs, kept values and gradients, in the same memory layout where the reference keeps one; BPNET_NUMBA=0 and a
missing numba leave the references alone."""
import numpy as np
import pytest

from bpnet import _numba, nn
from bpnet.nn import conv as conv_module, kernels

numba = pytest.importorskip("numba")  # a runtime requirement: CI always has it


def channel_major(x):
    """x's values, stored (C, N, H, W) as a Conv2d's output is."""
    return np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def special_input(shape, dtype, layout, seed=0):
    """Seeded normals with ties, a NaN, infinities of both signs, and -0.0 among them."""
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x[0, 0, 0, 0], x[1, 1, 2, 2:4], x[0, 1, 3, 1], x[1, 0, 4, :2], x[0, 2, 1, 1] = np.nan, 5, np.inf, -np.inf, -0.0
    x[2, 3, 5:7, 4:6] = 1.5  # a whole window tied
    return channel_major(x) if layout == "channel_major" else x


def run(layer, x, dy_seed=1):
    """(output, input gradient, parameter gradients) of one forward and backward."""
    layer.zero_grad()
    y = layer(x)
    dy = np.random.default_rng(dy_seed).standard_normal(y.shape).astype(x.dtype)
    if isinstance(layer, nn.MaxPool2d):
        dy[0, 0, 0, 0] = np.inf  # an infinite gradient must not turn into NaN next to its zeros
    dx = layer.backward(dy)
    return y, dx, [p.grad.copy() for p in layer.parameters()]


def with_numpy(monkeypatch, layer, x):
    with monkeypatch.context() as m:
        m.setattr(kernels, "get", lambda name: None)
        return run(layer, x)


@pytest.fixture(params=[1, 3], ids=["1_thread", "3_threads"])
def threads(request, monkeypatch):
    """The loops on one thread, or split three ways however small the work."""
    monkeypatch.setattr(kernels, "threads", lambda: request.param)
    monkeypatch.setattr(kernels, "_SERIAL_BELOW", 0)
    return request.param


def assert_same(fast, reference):
    for f, r in zip(fast, reference):
        for a, b in zip(f if isinstance(f, list) else [f], r if isinstance(r, list) else [r]):
            np.testing.assert_array_equal(a, b)  # (NaN where the other has NaN)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channel_major"])
@pytest.mark.parametrize("pool", [dict(kernel_size=2), dict(kernel_size=2, stride=1), dict(kernel_size=2, padding=1),
                                  dict(kernel_size=2, stride=(1, 2), padding=(1, 0)), dict(kernel_size=2, stride=3)],
                         ids=["2x2", "overlapping", "padded", "mixed", "gaps"])
def test_max_pool_2x2_compiled_is_bitwise_the_numpy_reference(pool, layout, dtype, threads, monkeypatch):
    assert kernels.get("max_pool2") is not None
    layer, x = nn.MaxPool2d(**pool), special_input((3, 4, 9, 8), dtype, layout)
    fast, reference = run(layer, x), with_numpy(monkeypatch, layer, x)
    assert_same(fast, reference)
    assert np.isnan(fast[0]).any() and np.isinf(fast[1]).any()  # the special values took part
    if "padding" not in pool:  # (the reference pads into a new contiguous array; the loop keeps x's layout)
        assert fast[0].strides == reference[0].strides


def test_bpnet_numba_0_keeps_to_numpy(monkeypatch):
    monkeypatch.setattr(kernels, "_compiled", {})
    monkeypatch.setenv("BPNET_NUMBA", "0")
    assert not _numba.enabled() and kernels.get("max_pool2") is None
    assert kernels.describe().startswith("numpy")
    y = nn.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4))  # the reference runs
    np.testing.assert_array_equal(y, [[[[5, 7], [13, 15]]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "channel_major"])
@pytest.mark.parametrize("conv", [dict(kernel_size=3, padding=1), dict(kernel_size=3), dict(kernel_size=3, stride=2),
                                  dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 2)),
                                  dict(kernel_size=4, padding="same"), dict(kernel_size=1, stride=5, padding=3)],
                         ids=["3x3_pad1", "valid", "strided", "mixed", "same_even", "gaps"])
@pytest.mark.parametrize("bias", [True, False])  # (with a bias, im2col adds a row of ones that the bias multiplies)
def test_conv_im2col_and_col2im_compiled_are_bitwise_the_numpy_reference(conv, layout, dtype, bias, threads,
                                                                        monkeypatch):
    assert kernels.get("im2col") is not None and kernels.get("col2im") is not None
    layer = nn.Conv2d(4, 5, dtype=dtype, generator=0, bias=bias, **conv)
    x = np.random.default_rng(0).standard_normal((3, 4, 9, 8)).astype(dtype)
    x = channel_major(x) if layout == "channel_major" else x
    fast, reference = run(layer, x), with_numpy(monkeypatch, layer, x)
    assert_same(fast, reference)
    assert fast[0].strides == reference[0].strides


@pytest.mark.parametrize("images_per_block", [1, 2])
@pytest.mark.parametrize("conv", [dict(kernel_size=3, padding=1),
                                  dict(kernel_size=(2, 3), stride=(2, 1), padding=(0, 2))], ids=["3x3_pad1", "mixed"])
def test_conv_input_gradient_block_by_block_is_bitwise_the_numpy_reference(conv, images_per_block, monkeypatch):
    layer = nn.Conv2d(4, 5, generator=0, **conv)
    x = channel_major(np.random.default_rng(0).standard_normal((5, 4, 9, 8)).astype(np.float32))  # 5: a short block
    oh, ow = layer(x).shape[2:]
    per_image = layer.weight.data[0].size * oh * ow  # entries of W^T dy per image
    monkeypatch.setattr(conv_module, "_CHUNK", per_image * images_per_block)
    fast, reference = run(layer, x), with_numpy(monkeypatch, layer, x)
    assert_same(fast, reference)


@pytest.mark.parametrize("layout", ["contiguous", "channel_major", "sliced"])
def test_relu_compiled_is_bitwise_the_numpy_reference(layout, threads, monkeypatch):
    x = special_input((3, 4, 9, 8), np.float32, "channel_major" if layout == "channel_major" else "contiguous")
    x = x[:, :, ::2] if layout == "sliced" else x  # (not dense: the reference runs)
    layer = nn.ReLU()
    fast, reference = run(layer, x), with_numpy(monkeypatch, layer, x)
    assert_same(fast, reference)
    assert np.isnan(fast[0]).any() and fast[0].strides == reference[0].strides


def test_work_splits_into_contiguous_ranges_covering_it_once(monkeypatch):
    monkeypatch.setattr(kernels, "threads", lambda: 4)
    seen = []
    kernels.run(lambda lo, hi: seen.append((lo, hi)), 10, size=1 << 20)
    assert sorted(seen) == [(0, 2), (2, 5), (5, 7), (7, 10)]
    seen.clear()
    kernels.run(lambda lo, hi: seen.append((lo, hi)), 10, size=100)  # small work: this thread alone
    assert seen == [(0, 10)]


def test_threads_follow_blas(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    assert kernels.threads() == 1
    monkeypatch.delenv("OPENBLAS_NUM_THREADS")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert kernels.threads() >= 1
