"""Elementwise activations and softmax; none of them modifies its input or the incoming gradient."""
import numpy as np

from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Identity"]


class ReLU(Module):
    """max(x, 0), any shape."""

    def forward(self, x):
        self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dy):
        return dy * self._cached("_mask")


class LeakyReLU(Module):
    """x if x > 0 else slope * x, any shape."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        self._mask = x > 0
        return np.where(self._mask, x, self.negative_slope * x)

    def backward(self, dy):
        return np.where(self._cached("_mask"), dy, self.negative_slope * dy)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


def sigmoid(x):
    """1 / (1 + exp(-x)) without overflow: exp is only taken of -|x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


class Sigmoid(Module):
    """s(x) = 1 / (1 + exp(-x)); ds/dx = s (1 - s)."""

    def forward(self, x):
        self._y = sigmoid(x).astype(x.dtype, copy=False)
        return self._y

    def backward(self, dy):
        y = self._cached("_y")
        return dy * y * (1 - y)


class Tanh(Module):
    """tanh(x); d/dx = 1 - tanh^2."""

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        y = self._cached("_y")
        return dy * (1 - y * y)


class Softmax(Module):
    """Softmax over the last axis, shifted by the max so exp never overflows."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        self._y = e / e.sum(axis=-1, keepdims=True)
        return self._y

    def backward(self, dy):
        # Jacobian-vector product: dx_i = y_i (dy_i - sum_j dy_j y_j)
        y = self._cached("_y")
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


class Identity(Module):
    """x -> x."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy
