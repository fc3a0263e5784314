"""2-D convolution on NCHW input by im2col: one matrix product, no Python loop over pixels."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._state import resolve_dtype
from . import init, kernels
from .module import Module, Parameter

__all__ = ["Conv2d", "im2col", "col2im", "input_grad", "pair", "conv_pads"]


def pair(v, name):
    """An int or a pair of ints as a tuple (a, b) of non-negative ints."""
    a, b = (v, v) if np.isscalar(v) else tuple(v)
    if int(a) != a or int(b) != b or a < 0 or b < 0:
        raise ValueError(f"{name} must be a non-negative int or a pair of them, got {v!r}")
    return int(a), int(b)


def conv_pads(padding, kernel, stride):
    """((top, bottom), (left, right)) zeros for `padding`: an int, a pair, 'valid' (none) or 'same' (the output
    as large as the input, stride 1 only; an even kernel gets the extra row and column at the bottom and
    right, as in PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError("padding='same' is not supported for strided convolutions")
        return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)
    ph, pw = pair(padding, "padding")
    return (ph, ph), (pw, pw)


def im2col(x, kernel, stride, pads, ones=False):
    """(N, C, H, W) -> columns (C*KH*KW, N*OH*OW) and (OH, OW); rows ordered (c, kh, kw), columns (n, oh, ow).
    ones=True adds a last row of ones (C*KH*KW + 1 rows): the bias's column of the weights multiplies it.

    Channel-major: the copy runs along contiguous image rows, and a layer whose input came from the previous
    convolution (stored channel-major, see Conv2d.forward) needs no transpose at all.
    """
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = kernel, stride, pads
    n, c, h, w = x.shape
    xc = x.transpose(1, 0, 2, 3)  # (C, N, H, W)
    oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    out = np.empty((c * kh * kw + bool(ones), n * oh * ow), dtype=x.dtype)
    cols = out[:c * kh * kw]
    if ones:
        out[-1] = 1
    fast = kernels.get("im2col")
    if fast is not None:  # the same copy in one compiled pass, padding included
        images = oh * ow  # columns per image: the work splits over the images of the batch
        kernels.run(lambda lo, hi: fast(xc[:, lo:hi], kh, kw, sh, sw, top, left, oh, ow,
                                        cols[:, lo * images:hi * images]), n, cols.size)
        return out, (oh, ow)
    if top or bottom or left or right:
        padded = np.zeros((c, n, h + top + bottom, w + left + right), dtype=x.dtype)
        padded[:, :, top:top + h, left:left + w] = xc
        xc = padded
    windows = sliding_window_view(xc, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]  # (C, N, OH, OW, KH, KW) view
    cols.reshape(c, kh, kw, n, oh, ow)[...] = windows.transpose(0, 4, 5, 1, 2, 3)
    return out, (oh, ow)


def col2im(cols, x_shape, kernel, stride, pads, out_hw):
    """Adjoint of im2col: sum column entries back to (N, C, H, W); one vectorised add per kernel offset."""
    (kh, kw), (sh, sw), ((top, bottom), (left, right)) = kernel, stride, pads
    n, c, h, w = x_shape
    oh, ow = out_hw
    fast = kernels.get("col2im")
    if fast is not None:  # the same sums, gathered plane by plane in one compiled pass
        dx = np.zeros((c, n, h, w), dtype=cols.dtype)
        images = oh * ow
        kernels.run(lambda lo, hi: fast(cols[:, lo * images:hi * images], kh, kw, sh, sw, top, left, oh, ow,
                                        dx[:, lo:hi]), n, cols.size)
        return dx.transpose(1, 0, 2, 3)
    cols = cols.reshape(c, kh, kw, n, oh, ow)
    dx = np.zeros((c, n, h + top + bottom, w + left + right), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            dx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += cols[:, i, j]
    return dx[:, :, top:top + h, left:left + w].transpose(1, 0, 2, 3)  # an (N, C, H, W) view of C-major memory


_CHUNK = 1 << 19  # column entries per block of input_grad: ~2 MB of float32, still in cache when col2im reads it


def input_grad(wt, dy, x_shape, kernel, stride, pads, out_hw):
    """col2im(wt @ dy): the input's gradient from the columns' gradient W^T dy (wt: (C*KH*KW, C_out), dy:
    (C_out, N*OH*OW)). With the compiled col2im, done a few images at a time: each block of W^T dy is summed
    back while it is still in cache, instead of one pass writing all of it (29 MB for the MNIST CNN's second
    layer at batch 128) and another reading it back. Each block's columns are the same products (a product's
    column depends only on its own column of dy)."""
    n = x_shape[0]
    images = out_hw[0] * out_hw[1]
    fast = kernels.get("col2im")
    step = max(1, _CHUNK // max(1, wt.shape[0] * images))
    if fast is None or step >= n:
        return col2im(wt @ dy, x_shape, kernel, stride, pads, out_hw)
    (kh, kw), (sh, sw), ((top, _), (left, _)) = kernel, stride, pads
    dx = np.zeros((x_shape[1], n) + tuple(x_shape[2:]), dtype=dy.dtype)
    block = np.empty((wt.shape[0], step * images), dtype=dy.dtype)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        cols = block[:, :(hi - lo) * images]
        np.matmul(wt, dy[:, lo * images:hi * images], out=cols)
        fast(cols, kh, kw, sh, sw, top, left, out_hw[0], out_hw[1], dx[:, lo:hi])
    return dx.transpose(1, 0, 2, 3)


class Conv2d(Module):
    """(N, C_in, H, W) -> (N, C_out, OH, OW); weight (C_out, C_in, KH, KW); PyTorch's signature (dilation,
    groups and padding_mode only at their defaults)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None, generator=None):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"Conv2d needs positive channel counts, got {in_channels}, {out_channels}")
        if pair(dilation, "dilation") != (1, 1) or groups != 1 or padding_mode != "zeros":
            raise ValueError("bpnet's Conv2d supports dilation=1, groups=1 and padding_mode='zeros' only")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("kernel_size and stride must be at least 1")
        self.pads = conv_pads(padding, self.kernel_size, self.stride)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
        dtype = resolve_dtype(dtype)
        self.weight = Parameter(np.zeros((out_channels, in_channels) + self.kernel_size), dtype)
        self.register_parameter("bias", Parameter(np.zeros(out_channels), dtype) if bias else None)
        init.default_(self.weight, self.bias, generator)

    def forward(self, x):
        """(N, C_in, H, W) -> (N, C_out, OH, OW)."""
        x = np.asarray(x, dtype=self.weight.data.dtype)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d expected input (N, {self.in_channels}, H, W), got {x.shape}")
        h, w = x.shape[2] + sum(self.pads[0]), x.shape[3] + sum(self.pads[1])
        if h < self.kernel_size[0] or w < self.kernel_size[1]:
            raise ValueError(f"input {x.shape[2:]} (padded {h}x{w}) is smaller than the kernel {self.kernel_size}")
        cols, (oh, ow) = im2col(x, self.kernel_size, self.stride, self.pads, ones=self.bias is not None)
        self.save_for_backward(cols, x.shape, (oh, ow))
        w = self.weight.data.reshape(self.out_channels, -1)
        if self.bias is not None:  # [W | b] @ [cols; 1] = W cols + b: the bias added inside the product
            w = np.concatenate([w, self.bias.data[:, None]], axis=1)
        y = w @ cols  # (C_out, N*OH*OW)
        return y.reshape(self.out_channels, x.shape[0], oh, ow).transpose(1, 0, 2, 3)  # NCHW view, C-major memory

    def backward(self, dy):
        """(N, C_out, OH, OW) -> (N, C_in, H, W); dW = dy cols^T, db = dy 1, dcols = W^T dy, dx = col2im(dcols)."""
        cols, x_shape, out_hw = self.saved_tensors
        dy = dy.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)  # (C_out, N*OH*OW)
        if self.bias is None:
            self.weight.accumulate_matmul(dy, cols.T)  # dW += dy cols^T, as (out_ch, in_ch, kh, kw)
        elif self.weight.requires_grad or self.bias.requires_grad:
            grads = dy @ cols.T  # [dW | db]: the row of ones sums dy over the batch and positions for the bias
            self.weight.accumulate(grads[:, :-1].reshape(self.weight.shape))
            self.bias.accumulate(grads[:, -1])
        if not self.needs_input_grad:
            return None
        wt = self.weight.data.reshape(self.out_channels, -1).T  # dcols = W^T dy, summed back by col2im
        return input_grad(wt, dy, x_shape, self.kernel_size, self.stride, self.pads, out_hw)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
