"""Max pooling over NCHW input, vectorised over all windows."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .conv import pair
from .module import Module

__all__ = ["MaxPool2d"]


class MaxPool2d(Module):
    """(N, C, H, W) -> (N, C, OH, OW), OH = (H - k) // s + 1; the gradient goes to the first max of each window."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("kernel_size and stride must be at least 1")

    def forward(self, x):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if x.ndim != 4 or x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(f"MaxPool2d{self.kernel_size} expected input (N, C, H>={kh}, W>={kw}), got {x.shape}")
        windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        n, c, oh, ow = windows.shape[:4]
        flat = windows.reshape(n, c, oh, ow, kh * kw)
        self._argmax = flat.argmax(axis=-1)
        self._x_shape = x.shape
        return np.take_along_axis(flat, self._argmax[..., None], axis=-1)[..., 0]

    def backward(self, dy):
        """Route each output gradient to its window's argmax; one vectorised add per kernel offset."""
        argmax = self._cached("_argmax")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        oh, ow = argmax.shape[2:]
        dx = np.zeros(self._x_shape, dtype=dy.dtype)
        for k in range(kh * kw):
            i, j = divmod(k, kw)
            dx[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] += np.where(argmax == k, dy, 0)
        return dx

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"
