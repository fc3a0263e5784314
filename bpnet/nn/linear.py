"""Fully connected layer y = x W^T + b, weight (out, in) as in PyTorch."""
import numpy as np

from .._state import resolve_dtype
from . import init
from .module import Module, Parameter

__all__ = ["Linear"]


class Linear(Module):
    """(*, in) -> (*, out): any number of leading dimensions, as in PyTorch."""

    def __init__(self, in_features, out_features, bias=True, dtype=None, generator=None):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear needs positive sizes, got in={in_features}, out={out_features}")
        dtype = resolve_dtype(dtype)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.zeros((out_features, in_features)), dtype)
        self.register_parameter("bias", Parameter(np.zeros(out_features), dtype) if bias else None)
        init.default_(self.weight, self.bias, generator)

    def forward(self, x):
        """(*, in) -> (*, out)."""
        x = np.asarray(x, dtype=self.weight.data.dtype)
        if x.shape[-1] != self.in_features:
            raise ValueError(f"Linear expected input (*, {self.in_features}), got {x.shape}")
        self.save_for_backward(x)
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, dy):
        """(*, out) -> (*, in); accumulates dW = dy^T x and db = sum_n dy over all leading dimensions."""
        x, = self.saved_tensors
        dy2 = dy.reshape(-1, self.out_features)
        self.weight.accumulate_matmul(dy2.T, x.reshape(-1, self.in_features))  # dW += dy^T x
        if self.bias is not None:
            self.bias.accumulate(dy2.sum(axis=0))
        return dy @ self.weight.data if self.needs_input_grad else None

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
