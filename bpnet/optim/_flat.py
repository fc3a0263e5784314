"""One contiguous buffer for the data, one for the gradients (and one per state array) of the parameters an
optimizer updates together: the same param group, dtype and state layout (e.g. the same Adam step)."""
import numpy as np

__all__ = ["FlatGroup"]


class FlatGroup:
    """Moves its parameters' data and grad into two flat buffers (values kept) and leaves each `p.data` and
    `p.grad` a view of them, so an optimizer updates all of them with a few whole-buffer operations.

    `params` is the optimizer's list of every parameter (for messages), `indices` this group's members,
    `group_index` their param group; `states` (one per member, all alike, or None) their optimizer state,
    kept flat in `self.state`: arrays laid out like the data buffer, scalars (the step) shared.
    """

    def __init__(self, params, indices, group_index, states=None):
        self.params, self.indices, self.group_index = params, indices, group_index
        self.shapes = [params[i].shape for i in indices]
        sizes = [params[i].size for i in indices]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.dtype = params[indices[0]].dtype
        self.data = np.empty(int(self.offsets[-1]), self.dtype)
        self.grad = np.empty_like(self.data)
        self.state = None if states is None else {  # flat optimizer state (None: made on the first step)
            name: (np.concatenate([np.ravel(s[name]) for s in states]).astype(self.dtype, copy=False)
                   if isinstance(value, np.ndarray) else value)
            for name, value in states[0].items()}
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

    def param_states(self):
        """Each member's state as a dict (views of the flat arrays, scalars by value); None before any."""
        if self.state is None:
            return [None] * len(self.indices)
        out = [{} for _ in self.indices]
        for name, value in self.state.items():
            parts = self.split(value) if isinstance(value, np.ndarray) else [value] * len(self.indices)
            for state, part in zip(out, parts):
                state[name] = part
        return out
