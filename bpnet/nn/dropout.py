"""Inverted dropout: keep each element with probability 1-p and scale it by 1/(1-p); identity in eval."""
import numpy as np

from .._state import default_generator
from .module import Module

__all__ = ["Dropout"]


class Dropout(Module):
    """Any shape -> same shape; one independent mask per element. (`inplace=True` is accepted; the result is
    a new array with the same values.)"""

    def __init__(self, p=0.5, inplace=False, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be between 0 and 1, got {p}")
        self.p, self.inplace = float(p), bool(inplace)
        # an int seed becomes one Generator here, so that every forward draws a fresh mask; None: the global one
        self.generator = None if generator is None else default_generator(generator)

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self.save_for_backward(None)
            return x
        if self.p == 1.0:
            mask = np.zeros_like(x)
        else:
            keep = default_generator(self.generator).random(x.shape, dtype=np.float32) >= self.p
            mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        self.save_for_backward(mask)
        return x * mask

    def backward(self, dy):
        mask, = self.saved_tensors
        return dy if mask is None else dy * mask

    def extra_repr(self):
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")
