"""Layer normalisation (Ba, Kiros & Hinton 2016): each sample normalised over its last dimensions."""

import numpy as np

from .._state import resolve_dtype
from .batchnorm import normalize_backward
from .module import Module, Parameter

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """(*, *normalized_shape) -> same shape: (x - mean) / sqrt(var + eps) * weight + bias, the mean and (biased)
    variance over the last len(normalized_shape) dimensions of each sample; no running statistics."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        if not shape or any(int(d) != d or d < 1 for d in shape):
            raise ValueError(f"normalized_shape must be positive ints, got {normalized_shape!r}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.normalized_shape, self.eps = tuple(int(d) for d in shape), float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = resolve_dtype(dtype)
        affine, with_bias = self.elementwise_affine, self.elementwise_affine and bias
        self.register_parameter("weight", Parameter(np.ones(self.normalized_shape), dtype) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(self.normalized_shape), dtype) if with_bias else None)
        self.dtype = dtype

    def forward(self, x):
        x = np.asarray(x, dtype=self.dtype)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape} expected input (*, "
                             f"{', '.join(map(str, self.normalized_shape))}), got {x.shape}")
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(x.var(axis=axes, keepdims=True) + self.eps)
        xhat = (x - mean) * inv_std
        self.save_for_backward(xhat, inv_std, axes)
        y = xhat if self.weight is None else xhat * self.weight.data
        return y if self.bias is None else y + self.bias.data

    def backward(self, dy):
        xhat, inv_std, axes = self.saved_tensors
        leading = tuple(range(dy.ndim - len(axes)))  # the weight is shared by every sample
        if self.bias is not None:
            self.bias.accumulate(dy.sum(axis=leading))
        if self.weight is None:
            return normalize_backward(dy, xhat, inv_std, axes)
        self.weight.accumulate((dy * xhat).sum(axis=leading))
        return normalize_backward(dy * self.weight.data, xhat, inv_std, axes)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
