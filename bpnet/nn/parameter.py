"""Parameter: a trainable array and its gradient."""
import numpy as np

from .._state import resolve_dtype

__all__ = ["Parameter"]


class Parameter:
    """A trainable array `data` and its gradient `grad` (same shape, starts at zeros).

    `requires_grad_(False)` freezes it, as in PyTorch: layers add nothing to its gradient and optimisers leave
    it alone. (Unlike PyTorch's, bpnet's grad is always an array: a frozen parameter's stays as it was.)
    """

    _requires_grad = True

    def __init__(self, data, dtype=None, requires_grad=True):
        if dtype is None and isinstance(data, np.ndarray) and data.dtype in (np.float32, np.float64):
            dtype = data.dtype
        self.data = np.array(data, dtype=resolve_dtype(dtype), copy=True, order="C")
        self.grad = np.zeros_like(self.data)
        self.requires_grad = requires_grad

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be True or False, got {flag!r}")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze (True) in place; returns the parameter."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self):
        """d loss / d data, summed over the backward calls since zero_grad()."""
        if self._zero_pending:  # zero_grad() left the zeros to be written when they are first needed
            self._grad.fill(0)
            self._zero_pending = False
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad, self._zero_pending = value, False

    def zero_grad(self):
        """grad = 0 in place, written when grad is next read or replaced by a product (accumulate_matmul); an
        array taken from grad earlier keeps its old values until then (as PyTorch's set_to_none leaves it)."""
        self._zero_pending = True

    def accumulate(self, value):
        """grad += value, unless frozen: what a layer's backward calls for each of its parameters."""
        if self._requires_grad:
            self.grad += value

    def accumulate_matmul(self, a, b):
        """grad += a @ b, reshaped to grad's shape, unless frozen (then the product is not even computed).
        Right after zero_grad() the product is written straight into grad (PyTorch likewise assigns the first
        gradient after zero_grad), saving a fill and a pass."""
        if not self._requires_grad:
            return
        if self._zero_pending and self._grad.flags.c_contiguous:
            np.matmul(a, b, out=self._grad.reshape(a.shape[0], b.shape[1]))
            self._zero_pending = False
        else:
            self.grad += (a @ b).reshape(self._grad.shape)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def __repr__(self):
        frozen = "" if self._requires_grad else ", requires_grad=False"
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype.name}{frozen})"
