"""Batch normalisation with PyTorch's semantics: per-channel statistics, momentum 0.1 (None: the cumulative
average), unbiased running variance."""
import numpy as np

from .._state import resolve_dtype
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "normalize_backward"]


def normalize_backward(dxhat, xhat, inv_std, axes):
    """dx for xhat = (x - mean(x)) * inv_std with the mean and variance taken over `axes` (Ioffe & Szegedy
    2015, eq. after Alg. 1, simplified with m values per statistic):
    dx = inv_std / m * (m dxhat - sum(dxhat) - xhat sum(dxhat xhat))."""
    mean_dxhat = dxhat.mean(axis=axes, keepdims=True)
    mean_dxhat_xhat = (dxhat * xhat).mean(axis=axes, keepdims=True)
    return inv_std * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


class _BatchNorm(Module):
    """Normalise each channel (axis 1) over all other axes; `_ndims` lists the accepted input ranks."""

    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, dtype=None):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be positive, got {num_features}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        dtype = resolve_dtype(dtype)
        self.num_features, self.eps = int(num_features), float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.weight = Parameter(np.ones(num_features), dtype)
        self.bias = Parameter(np.zeros(num_features), dtype)
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
        self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))

    def _axes_and_shape(self, x):
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expected input of rank {self._ndims} "
                             f"with {self.num_features} channels on axis 1, got shape {x.shape}")
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return axes, shape

    def forward(self, x):
        """(N, C, ...) -> same shape."""
        x = np.asarray(x, dtype=self.weight.data.dtype)
        axes, shape = self._axes_and_shape(x)
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(f"expected more than 1 value per channel when training, got input shape {x.shape}")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            self.num_batches_tracked += 1
            m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum  # None: cumulative
            self.running_mean *= 1 - m
            self.running_mean += m * mean
            self.running_var *= 1 - m
            self.running_var += m * var * (count / (count - 1))
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        self.save_for_backward(xhat, inv_std, axes, shape, self.training)
        return xhat * self.weight.data.reshape(shape) + self.bias.data.reshape(shape)

    def backward(self, dy):
        """Same shape as the input; full formula through the batch mean and variance in train mode."""
        xhat, inv_std, axes, shape, batch_stats = self.saved_tensors
        self.weight.accumulate((dy * xhat).sum(axis=axes))
        self.bias.accumulate(dy.sum(axis=axes))
        dxhat = dy * self.weight.data.reshape(shape)
        if not batch_stats:  # running statistics are constants
            return dxhat * inv_std.reshape(shape)
        return normalize_backward(dxhat, xhat, inv_std.reshape(shape), axes)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """(N, C) or (N, C, L) -> same shape, statistics per feature C."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """(N, C, H, W) -> same shape, statistics per channel C (over N, H and W)."""

    _ndims = (4,)
