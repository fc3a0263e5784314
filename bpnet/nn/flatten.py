"""Flatten a range of dimensions into one, as torch.nn.Flatten (by default all but the batch dimension)."""
import math

from .module import Module

__all__ = ["Flatten"]


class Flatten(Module):
    """(N, d1, d2, ...) -> (N, d1*d2*...) with the defaults; dims start_dim..end_dim (inclusive) in general."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x):
        start, end = (d + x.ndim if d < 0 else d for d in (self.start_dim, self.end_dim))
        if not 0 <= start <= end < max(x.ndim, 1):
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) does not fit "
                             f"an input of shape {x.shape}")
        self.save_for_backward(x.shape)
        return x.reshape(x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])

    def backward(self, dy):
        shape, = self.saved_tensors
        return dy.reshape(shape)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
