"""Max and average pooling over NCHW input, vectorised over all windows: one strided slice per kernel offset."""
import numpy as np

from . import kernels
from .conv import pair
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d"]


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else pair(stride, "stride")
        self.padding = pair(padding, "padding")
        if min(self.kernel_size) < 1 or min(self.stride) < 1:
            raise ValueError("kernel_size and stride must be at least 1")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"padding {self.padding} must be at most half the kernel size {self.kernel_size}")

    def _out_hw(self, x):
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        if x.ndim != 4 or x.shape[2] + 2 * ph < kh or x.shape[3] + 2 * pw < kw:
            raise ValueError(f"{type(self).__name__}{self.kernel_size} expected input (N, C, H, W) of at least the "
                             f"kernel size (with padding {self.padding}), got {x.shape}")
        (sh, sw) = self.stride
        return (x.shape[2] + 2 * ph - kh) // sh + 1, (x.shape[3] + 2 * pw - kw) // sw + 1

    def _offsets(self, oh, ow):
        """For each kernel offset (i, j) in scan order: the strided slice of the (padded) input it covers."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        return [(slice(None), slice(None), slice(i, i + sh * oh, sh), slice(j, j + sw * ow, sw))
                for i in range(kh) for j in range(kw)]

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _zeros_like_layout(shape, strides, dtype):
    """Zeros of `shape` laid out in memory like an array with `strides` (e.g. channel-major after a Conv2d)."""
    order = np.argsort(strides, kind="stable")[::-1]  # axes from the slowest-varying to the fastest
    return np.zeros([shape[i] for i in order], dtype=dtype).transpose(np.argsort(order))


def _channel_major(a):
    return a.strides[1] > a.strides[0]


def _planes(a, like=None):
    """(N, C, H, W) as "planes first" (A, B, H, W) in the memory order of `like` (default: of `a` itself):
    (C, N, H, W) for channel-major memory (a Conv2d's output), else as it is."""
    return a.transpose(1, 0, 2, 3) if _channel_major(a if like is None else like) else a


def _unplanes(planes, like):
    """Back to (N, C, H, W) from the planes _planes(like) gave."""
    return planes.transpose(1, 0, 2, 3) if _channel_major(like) else planes


class MaxPool2d(_Pool2d):
    """(N, C, H, W) -> (N, C, OH, OW), OH = (H + 2 pad - k) // s + 1 (padding with -inf); the gradient goes to
    the first max of each window in scan order, as in PyTorch (a NaN is its window's max)."""

    def forward(self, x, after_relu=False):
        """The elementwise max of the KH*KW strided slices, and which of them held it (kept for backward).
        after_relu=True (Sequential, when fuses_relu()): this pool of ReLU(x), see forward_after_relu."""
        if after_relu:
            return self.forward_after_relu(x)
        oh, ow = self._out_hw(x)
        fast = kernels.get("max_pool2") if self.kernel_size == (2, 2) else None
        if fast is not None:  # the same max and argmax, in one compiled pass over x in its memory order
            return self._compiled(x, fast, relu=False)
        if any(self.padding):
            (ph, pw), (h, w) = self.padding, x.shape[2:]
            padded = np.full(x.shape[:2] + (h + 2 * ph, w + 2 * pw), -np.inf, dtype=x.dtype)
            padded[:, :, ph:ph + h, pw:pw + w] = x
            x = padded
        windows = [x[offset] for offset in self._offsets(oh, ow)]
        y = windows[0].copy(order="K")  # (keeps the memory order of the input: channel-major after a Conv2d)
        for window in windows[1:]:
            np.maximum(y, window, out=y)
        nan_inside = np.isnan(y).any()
        argmax = np.zeros_like(y, dtype=np.uint8 if len(windows) < 256 else np.intp)
        for k in reversed(range(len(windows))):  # the first max is written last
            hit = windows[k] == y
            if nan_inside:  # np.maximum propagates a NaN: route the gradient there, like PyTorch
                hit |= np.isnan(windows[k])
            np.copyto(argmax, k, where=hit)
        self.save_for_backward(argmax, x.shape, x.strides)
        return y

    def fuses_relu(self):
        """True when forward_after_relu can run (compiled loops, 2x2 windows that do not overlap)."""
        return self.kernel_size == (2, 2) and min(self.stride) >= 2 and kernels.get("max_pool2") is not None

    def forward_after_relu(self, x):
        """This pool of ReLU(x), for Sequential's pair ReLU -> MaxPool2d (when fuses_relu()): max pooling commutes
        with ReLU, max(relu(x)) = relu(max(x)), so the pool runs on x and ReLU on its 4x smaller output; a window
        whose max is not positive (all its ReLU outputs 0, their gradient 0) gets argmax 4, routing its gradient
        nowhere. backward() then returns the gradient of the pair: the same numbers as the two modules', bit for
        bit, in a third of the memory traffic (tests/test_fusion.py)."""
        if not self.fuses_relu():
            raise ValueError(f"MaxPool2d{self.kernel_size} stride {self.stride} cannot fuse a ReLU (2x2 windows "
                             "of stride >= 2 with the compiled loops only)")
        return self._compiled(x, kernels.get("max_pool2"), relu=True)

    def _compiled(self, x, fast, relu):
        planes = _planes(x)
        y = np.empty(planes.shape[:2] + self._out_hw(x), dtype=x.dtype)
        argmax = np.empty_like(y, dtype=np.uint8)
        (sh, sw), (ph, pw) = self.stride, self.padding
        kernels.run(lambda lo, hi: fast(planes[lo:hi], sh, sw, ph, pw, relu, y[lo:hi], argmax[lo:hi]), len(y),
                    x.size)
        y, argmax = _unplanes(y, x), _unplanes(argmax, x)
        padded = x.shape[:2] + tuple(d + 2 * p for d, p in zip(x.shape[2:], self.padding))
        self.save_for_backward(argmax, padded, x.strides)
        return y

    def backward(self, dy):
        """Route each output gradient to its window's argmax (one slice-wise pass per kernel offset)."""
        argmax, x_shape, x_strides = self.saved_tensors
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        fast = kernels.get("max_pool2_grad") if self.kernel_size == (2, 2) else None
        if fast is not None:  # the same sums, each gradient routed straight to its argmax in one compiled pass
            dx = _zeros_like_layout(x_shape, x_strides, dy.dtype)
            dy, argmax, dx_planes = _planes(dy, argmax), _planes(argmax), _planes(dx, argmax)
            kernels.run(lambda lo, hi: fast(dy[lo:hi], argmax[lo:hi], sh, sw, dx_planes[lo:hi]), len(dy), dx.size)
            return dx[:, :, ph:x_shape[2] - ph, pw:x_shape[3] - pw]
        overlapping, finite = sh < kh or sw < kw, np.isfinite(dy).all()
        laid_out = np.empty_like(argmax, dtype=dy.dtype)
        if dy.strides != laid_out.strides:  # lay dy out like the output: elementwise work runs in step
            laid_out[...] = dy
            dy = laid_out
        dx = _zeros_like_layout(x_shape, x_strides, dy.dtype)
        for k, window in enumerate(self._offsets(*argmax.shape[2:])):
            first = argmax == k
            if overlapping or not finite:  # (a product would turn an infinite gradient times 0 into NaN)
                dx[window] += np.where(first, dy, 0)
            else:  # each input element is in one window: write its share directly
                np.multiply(dy, first, out=dx[window])
        return dx[:, :, ph:x_shape[2] - ph, pw:x_shape[3] - pw]


class AvgPool2d(_Pool2d):
    """(N, C, H, W) -> (N, C, OH, OW): each window's mean, over KH*KW (count_include_pad=True: padded zeros
    count), over the real elements only (False), or over divisor_override; dx = dy / divisor on each window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__(kernel_size, stride, padding)
        if ceil_mode:
            raise ValueError("bpnet's AvgPool2d supports ceil_mode=False only")
        if divisor_override is not None and (int(divisor_override) != divisor_override or divisor_override < 1):
            raise ValueError(f"divisor_override must be a positive int, got {divisor_override!r}")
        self.count_include_pad, self.divisor_override = bool(count_include_pad), divisor_override

    def _pad(self, a):
        (ph, pw) = self.padding
        return np.pad(a, [(0, 0)] * (a.ndim - 2) + [(ph, ph), (pw, pw)]) if ph or pw else a

    def forward(self, x):
        oh, ow = self._out_hw(x)
        offsets = self._offsets(oh, ow)
        padded = self._pad(x)
        total = sum(padded[offset] for offset in offsets)
        if self.divisor_override is not None:
            divisor = self.divisor_override
        elif self.count_include_pad:
            divisor = len(offsets)
        else:  # per output position: how many real (unpadded) elements its window covers
            ones = self._pad(np.ones((1, 1) + x.shape[2:], dtype=x.dtype))
            divisor = sum(ones[offset] for offset in offsets)
        self.save_for_backward(divisor, x.shape, (oh, ow))
        return (total / divisor).astype(x.dtype, copy=False)

    def backward(self, dy):
        divisor, x_shape, out_hw = self.saved_tensors
        (ph, pw) = self.padding
        share = dy / divisor
        dx = np.zeros(x_shape[:2] + (x_shape[2] + 2 * ph, x_shape[3] + 2 * pw), dtype=share.dtype)
        for offset in self._offsets(*out_hw):
            dx[offset] += share
        return dx[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]

    def extra_repr(self):
        return super().extra_repr() + (f", count_include_pad={self.count_include_pad}"
                                       + (f", divisor_override={self.divisor_override}"
                                          if self.divisor_override is not None else ""))
