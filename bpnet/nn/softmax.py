"""Softmax and LogSoftmax over one dimension, shifted by the max so exp never overflows."""
import warnings

import numpy as np

from .module import Module

__all__ = ["Softmax", "LogSoftmax", "log_softmax"]


def log_softmax(logits, dim=-1):
    """log softmax along `dim` via log-sum-exp, finite for any finite logits."""
    shifted = logits - logits.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def _implicit_dim(module, ndim):
    """PyTorch's legacy choice when dim=None (0 for 0-, 1- and 3-D input, else 1), with its warning."""
    warnings.warn(f"Implicit dimension choice for {type(module).__name__.lower()} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class _AlongDim(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def _dim(self, x):
        return _implicit_dim(self, x.ndim) if self.dim is None else self.dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """y = exp(x) / sum exp(x) along `dim`; dx = y (dy - sum(dy y)), the Jacobian-vector product."""

    def forward(self, x):
        dim = self._dim(x)
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        y = e / e.sum(axis=dim, keepdims=True)
        self.save_for_backward(y, dim)
        return y.copy()  # the caller's copy: editing it leaves backward's y alone

    def backward(self, dy):
        y, dim = self.saved_tensors
        return y * (dy - (dy * y).sum(axis=dim, keepdims=True))


class LogSoftmax(_AlongDim):
    """y = x - log sum exp(x) along `dim`; dx = dy - softmax(x) sum(dy)."""

    def forward(self, x):
        dim = self._dim(x)
        y = log_softmax(x, dim)
        self.save_for_backward(np.exp(y), dim)
        return y

    def backward(self, dy):
        p, dim = self.saved_tensors
        return dy - p * dy.sum(axis=dim, keepdims=True)
