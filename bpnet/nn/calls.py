"""What runs around a module's forward and backward: the scope of the outermost forward (the values each
module saves for backward belong to it), private copies of that call's inputs, and the backward step that picks
the saved values of the call being differentiated and runs the backward hooks."""
import functools
import itertools
import threading

import numpy as np

from .hooks import call_backward_hooks

__all__ = ["forward_scope", "private_copies", "backward_step"]


class _ForwardScope(threading.local):
    """How deep this thread is in nested module calls, and which outermost call it is in."""

    depth = 0
    call = 0
    _calls = itertools.count(1)  # shared by all threads: every outermost call gets its own number

    def begin(self):
        self.call = next(self._calls)


forward_scope = _ForwardScope()


def private_copies(args):
    """The outermost call's array arguments as copies, so that the caller may refill or edit its buffers
    before backward without changing what the layers kept (PyTorch raises on such an edit instead)."""
    return tuple([a.copy(order="K") if isinstance(a, np.ndarray) and a.flags.writeable else a for a in args])


def backward_step(backward):
    """Wrap a subclass's backward: choose the values its forward kept for the call being differentiated
    (the most recent unused one: a module called twice is differentiated last call first), then run the
    backward hooks. A backward called through super() from a subclass's backward runs as it is."""
    @functools.wraps(backward)
    def step(self, *args, **kwargs):
        if type(self).backward is not step:
            return backward(self, *args, **kwargs)
        state = self.__dict__
        saved = state.get("_saved")
        if saved:
            if state.get("_stale"):
                raise RuntimeError(f"{type(self).__name__}.backward: the last forward ran under bpnet.no_grad(), "
                                   "which keeps nothing for backward, and the values kept before were already "
                                   "used; run the forward again outside no_grad()")
            i = state["_saved_use"] = state["_saved_next"]
            if i:
                state["_saved_next"] = i - 1
            else:  # the first call's values: all are used now, and a second backward starts over
                state["_saved_next"], state["_saved_used"] = len(saved) - 1, True
        grad_input = backward(self, *args, **kwargs)
        if self._backward_hooks:
            grad_output = args + tuple(kwargs.values()) or (1.0,)
            padded = (grad_input,) + (None,) * (self._forward_inputs - 1)
            grad_input = call_backward_hooks(self, padded, grad_output)[0]
        return grad_input
    step._bpnet_backward_step = True
    return step
