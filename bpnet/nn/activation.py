"""Elementwise activations. Each keeps only private arrays for backward (a mask or its derivative), so a
caller may edit the output in place; none modifies its input or the incoming gradient.

`inplace=True` is accepted for PyTorch's signatures; the result (the same values) is a new array.
"""
import numpy as np

from . import kernels
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "SiLU", "Softplus", "Identity", "sigmoid"]


class _Elementwise(Module):
    """An activation whose backward is dy * f'(x), with f'(x) (or a mask) kept by forward."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = bool(inplace)

    def backward(self, dy):
        derivative, = self.saved_tensors
        return dy * derivative

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Elementwise):
    """max(x, 0), any shape; d/dx = [x > 0]."""

    def forward(self, x):
        fast, y = kernels.get("relu"), np.empty_like(x)
        if fast is not None and y.strides == x.strides:  # x dense in some axis order: both walked flat, at once
            mask = np.empty_like(x, dtype=bool)
            flat_x, flat_y, flat_mask = (a.ravel(order="K") for a in (x, y, mask))
            kernels.run(lambda lo, hi: fast(flat_x[lo:hi], flat_y[lo:hi], flat_mask[lo:hi]), x.size, x.size)
            self.save_for_backward(mask)
            return y
        self.save_for_backward(x > 0)
        return np.maximum(x, 0)


class LeakyReLU(_Elementwise):
    """x if x > 0 else slope * x, any shape."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__(inplace)
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        mask = x > 0
        self.save_for_backward(mask)
        return np.where(mask, x, self.negative_slope * x)

    def backward(self, dy):
        mask, = self.saved_tensors
        return np.where(mask, dy, self.negative_slope * dy)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(_Elementwise):
    """x if x > 0 else alpha (exp(x) - 1); d/dx = 1 if x > 0 else alpha exp(x) (Clevert et al. 2015)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__(inplace)
        self.alpha = float(alpha)

    def forward(self, x):
        mask = x > 0
        negative = self.alpha * np.expm1(np.minimum(x, 0))
        self.save_for_backward(np.where(mask, 1, negative + self.alpha).astype(x.dtype, copy=False))
        return np.where(mask, x, negative)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only taken of -|x|."""
    e = np.exp(-np.abs(x))
    return (np.where(x >= 0, 1.0, e) / (1.0 + e)).astype(x.dtype, copy=False)


class Sigmoid(_Elementwise):
    """s(x) = 1 / (1 + exp(-x)); ds/dx = s (1 - s)."""

    def forward(self, x):
        s = sigmoid(x)
        self.save_for_backward(s * (1 - s))
        return s


class Tanh(_Elementwise):
    """tanh(x); d/dx = 1 - tanh^2."""

    def forward(self, x):
        y = np.tanh(x)
        self.save_for_backward(1 - y * y)
        return y


class SiLU(_Elementwise):
    """x s(x) (swish); d/dx = s(x) (1 + x (1 - s(x)))."""

    def forward(self, x):
        s = sigmoid(x)
        self.save_for_backward(s * (1 + x * (1 - s)))
        return x * s


class Softplus(_Elementwise):
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (as PyTorch); d/dx = s(beta x) there, else 1."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = float(beta), float(threshold)

    def forward(self, x):
        bx = self.beta * x
        linear = bx > self.threshold
        z = np.exp(np.minimum(bx, self.threshold))
        self.save_for_backward(np.where(linear, 1, z / (z + 1)).astype(x.dtype, copy=False))
        return np.where(linear, x, np.log1p(z) / self.beta).astype(x.dtype, copy=False)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Identity(Module):
    """x -> x (any constructor arguments are ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy
