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
            for name in ("data", "grad"):
                a = getattr(self.params[i], name)
                if not (isinstance(a, np.ndarray) and a.shape == self.shapes[k]
                        and (name == "grad" or a.dtype == self.dtype)):
                    got = f"a {a.shape} {a.dtype} array" if isinstance(a, np.ndarray) else repr(a)
                    raise ValueError(f"parameter {i}'s {name} is now {got}, not a {self.shapes[k]} {self.dtype} "
                                     "array: write into it in place (or make a new optimizer for a new shape)")
        # arrays tied by a view (rather than by sharing one Parameter) would be untied by the copy below
        outside = [(i, self.params[i].data) for i in self.indices if self.params[i].data.base is not self.data]
        for n, (i, a) in enumerate(outside):
            for j, b in outside[n + 1:]:
                if np.may_share_memory(a, b):
                    raise ValueError(f"parameters {i} and {j} share memory: to tie weights, use one Parameter twice")
        for k, i in enumerate(self.indices):
            p = self.params[i]
            p.data, p.grad = self._view(self.data, k, p.data), self._view(self.grad, k, p.grad)
        self.views = [(self.params[i].data, self.params[i].grad) for i in self.indices]

    def _view(self, flat, k, current):
        view = flat[self.offsets[k]:self.offsets[k + 1]].reshape(self.shapes[k])
        if current is not view:
            view[...] = current
        return view

    def check(self):
        """Re-adopt the parameters if any `p.data` or `p.grad` is no longer the view of the buffers it was
        (rebound since the last call, or copied along with the optimizer by deepcopy or pickle)."""
        for (data, grad), i in zip(self.views, self.indices):
            p = self.params[i]
            if p.data is not data or p.grad is not grad or data.base is not self.data or grad.base is not self.grad:
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
