"""Max pooling over NCHW input, vectorised over all windows."""
import numpy as np

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

    def _offsets(self, oh, ow):
        """For each kernel offset (i, j) in scan order: the strided slice of the input it covers."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return [(slice(None), slice(None), slice(i, i + sh * oh, sh), slice(j, j + sw * ow, sw))
                for i in range(kh) for j in range(kw)]

    def forward(self, x):
        """(N, C, H, W) -> (N, C, OH, OW): the elementwise max of the KH*KW strided slices."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        if x.ndim != 4 or x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(f"MaxPool2d{self.kernel_size} expected input (N, C, H>={kh}, W>={kw}), got {x.shape}")
        oh, ow = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
        offsets = self._offsets(oh, ow)
        y = x[offsets[0]].copy(order="K")  # (keeps the memory order of the input: channel-major after a Conv2d)
        for window in offsets[1:]:
            np.maximum(y, x[window], out=y)
        self._x, self._y = x, y
        return y

    def backward(self, dy):
        """Route each output gradient to the first max of its window (scan order, as PyTorch does)."""
        x, y = self._cached("_x"), self._y
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        overlapping, finite, nan_inside = sh < kh or sw < kw, np.isfinite(dy).all(), np.isnan(y).any()
        if dy.strides != y.strides:  # lay dy out like y (e.g. channel-major): elementwise work runs in step
            laid_out = np.empty_like(y, dtype=dy.dtype)
            laid_out[...] = dy
            dy = laid_out
        dx = np.zeros_like(x, dtype=dy.dtype)
        taken = np.zeros(y.shape, dtype=bool)
        for window in self._offsets(*y.shape[2:]):
            first = x[window] == y
            if nan_inside:  # a NaN is its window's max (np.maximum propagates it): route there, like PyTorch
                first |= np.isnan(x[window])
            np.greater(first, taken, out=first)  # a max, and no earlier one in its window
            taken |= first
            if overlapping or not finite:  # (a product would turn an infinite gradient times 0 into NaN)
                dx[window] += np.where(first, dy, 0)
            else:  # each input element is in one window: write its share directly
                np.multiply(dy, first, out=dx[window])
        return dx

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"
