"""One contiguous buffer for the data, and one for the gradients, of parameters sharing a dtype."""
import numpy as np

__all__ = ["FlatGroup", "group_by_dtype"]


class FlatGroup:
    """Moves its parameters' data and grad into two flat buffers (values kept) and leaves each `p.data` and
    `p.grad` a view of them, so an optimizer updates all of them with a few whole-buffer operations."""

    def __init__(self, params, indices):
        self.params, self.indices = params, indices
        self.shapes = [params[i].shape for i in indices]
        sizes = [params[i].size for i in indices]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.dtype = params[indices[0]].dtype
        self.data = np.empty(int(self.offsets[-1]), self.dtype)
        self.grad = np.empty_like(self.data)
        self.state = None  # flat optimizer state, made on the first step
        self.adopt()

    def adopt(self):
        """Copy the parameters into the buffers and rebind them to views (again if someone rebound them)."""
        for k, i in enumerate(self.indices):
            p = self.params[i]
            if p.shape != self.shapes[k] or p.dtype != self.dtype:
                raise ValueError(f"parameter {i} changed from {self.shapes[k]} {self.dtype} to {p.shape} {p.dtype} "
                                 "after the optimizer was made; make a new optimizer")
            p.data, p.grad = self._view(self.data, k, p.data), self._view(self.grad, k, p.grad)
        self.views = [(self.params[i].data, self.params[i].grad) for i in self.indices]

    def _view(self, flat, k, current):
        view = flat[self.offsets[k]:self.offsets[k + 1]].reshape(self.shapes[k])
        if current is not view:
            view[...] = current
        return view

    def check(self):
        """Re-adopt the parameters if any `p.data` or `p.grad` was rebound since the last call."""
        for (data, grad), i in zip(self.views, self.indices):
            if self.params[i].data is not data or self.params[i].grad is not grad:
                self.adopt()
                return

    def split(self, flat):
        """Per-parameter views (in each parameter's shape) of a flat array laid out like the buffers."""
        return [flat[self.offsets[k]:self.offsets[k + 1]].reshape(s) for k, s in enumerate(self.shapes)]


def group_by_dtype(params):
    """One FlatGroup per dtype among the parameters, in order of first appearance."""
    groups = {}
    for i, p in enumerate(params):
        groups.setdefault(p.dtype, []).append(i)
    return [FlatGroup(params, indices) for indices in groups.values()]
