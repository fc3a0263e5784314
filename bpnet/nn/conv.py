"""2-D convolution on NCHW input by im2col: one matrix product, no Python loop over pixels."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._state import resolve_dtype
from . import init
from .module import Module, Parameter

__all__ = ["Conv2d", "im2col", "col2im", "pair"]


def pair(v, name):
    """An int or a pair of ints as a tuple (a, b) of positive ints."""
    a, b = (v, v) if np.isscalar(v) else tuple(v)
    if int(a) != a or int(b) != b or a < 0 or b < 0:
        raise ValueError(f"{name} must be a non-negative int or a pair of them, got {v!r}")
    return int(a), int(b)


def _out_size(size, k, s, p):
    return (size + 2 * p - k) // s + 1


def im2col(x, kernel, stride, padding):
    """(N, C, H, W) -> columns (C*KH*KW, N*OH*OW) and (OH, OW); rows ordered (c, kh, kw), columns (n, oh, ow).

    Channel-major: the copy runs along contiguous image rows, and a layer whose input came from the previous
    convolution (stored channel-major, see Conv2d.forward) needs no transpose at all.
    """
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x.shape
    xc = x.transpose(1, 0, 2, 3)  # (C, N, H, W)
    if ph or pw:
        padded = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
        padded[:, :, ph:ph + h, pw:pw + w] = xc
        xc = padded
    windows = sliding_window_view(xc, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # (C, N, OH, OW, KH, KW) view
    oh, ow = windows.shape[2:4]
    cols = windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, n * oh * ow)
    return cols, (oh, ow)


def col2im(cols, x_shape, kernel, stride, padding, out_hw):
    """Adjoint of im2col: sum column entries back to (N, C, H, W); one vectorised add per kernel offset."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = x_shape
    oh, ow = out_hw
    cols = cols.reshape(c, kh, kw, n, oh, ow)
    dx = np.zeros((c, n, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += cols[:, i, j]
    return dx[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)  # an (N, C, H, W) view of channel-major memory


class Conv2d(Module):
    """(N, C_in, H, W) -> (N, C_out, OH, OW); weight (C_out, C_in, KH, KW)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 dtype=None, generator=None):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d needs positive channel counts, got {in_channels}, {out_channels}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("kernel_size and stride must be at least 1")
        dtype = resolve_dtype(dtype)
        self.weight = Parameter(np.zeros((out_channels, in_channels) + self.kernel_size), dtype)
        self.bias = Parameter(np.zeros(out_channels), dtype) if bias else None
        init.default_(self.weight, self.bias, generator)

    def forward(self, x):
        """(N, C_in, H, W) -> (N, C_out, OH, OW)."""
        x = np.asarray(x, dtype=self.weight.data.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expected input (N, {self.in_channels}, H, W), got {x.shape}")
        h, w = x.shape[2] + 2 * self.padding[0], x.shape[3] + 2 * self.padding[1]
        if h < self.kernel_size[0] or w < self.kernel_size[1]:
            raise ValueError(f"input {x.shape[2:]} (padded {h}x{w}) is smaller than the kernel {self.kernel_size}")
        cols, (oh, ow) = im2col(x, self.kernel_size, self.stride, self.padding)
        self._cols, self._x_shape, self._out_hw = cols, x.shape, (oh, ow)
        y = self.weight.data.reshape(self.out_channels, -1) @ cols  # (C_out, N*OH*OW)
        if self.bias is not None:
            y += self.bias.data[:, None]
        return y.reshape(self.out_channels, x.shape[0], oh, ow).transpose(1, 0, 2, 3)  # NCHW view, C-major memory

    def backward(self, dy):
        """(N, C_out, OH, OW) -> (N, C_in, H, W); dW = dy cols^T, dcols = W^T dy, dx = col2im(dcols)."""
        cols = self._cached("_cols")
        dy = dy.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)  # (C_out, N*OH*OW)
        self.weight.accumulate_matmul(dy, cols.T)  # dW += dy cols^T, as (out_ch, in_ch, kh, kw)
        if self.bias is not None:
            self.bias.grad += dy.sum(axis=1)
        if not self.needs_input_grad:
            return None
        dcols = self.weight.data.reshape(self.out_channels, -1).T @ dy
        return col2im(dcols, self._x_shape, self.kernel_size, self.stride, self.padding, self._out_hw)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
