"""Flatten all but the batch dimension."""
from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...)."""

    def forward(self, x):
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy):
        return dy.reshape(self._cached("_shape"))
