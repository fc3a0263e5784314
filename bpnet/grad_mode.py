"""Gradient mode, as in PyTorch: under `bpnet.no_grad()` forward keeps nothing for backward.

Evaluation and prediction need no backward pass, so they need none of the arrays a layer keeps for it (the
im2col columns of a convolution over a whole validation set run to hundreds of MiB). The mode is per thread,
as torch's is: a no_grad() in one thread leaves training in another alone.
"""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _Mode(threading.local):
    enabled = True  # the default of every thread


_mode = _Mode()


def is_grad_enabled():
    """True unless inside no_grad() (or set_grad_enabled(False)) in this thread."""
    return _mode.enabled


class _GradMode:
    """A context manager setting the mode on entry and restoring the previous one on exit; also a decorator."""

    mode = True

    def __enter__(self):
        self.__dict__.setdefault("_previous", []).append(_mode.enabled)
        _mode.enabled = self.mode

    def __exit__(self, *exc):
        _mode.enabled = self._previous.pop()

    def __call__(self, fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return run


class no_grad(_GradMode):
    """`with bpnet.no_grad():` (or `@bpnet.no_grad()`): forward keeps no values for backward, so evaluation
    holds no memory for it; a backward after such a forward is an error, not a stale gradient."""

    mode = False


class enable_grad(_GradMode):
    """Gradients on again, e.g. inside a no_grad() block."""

    mode = True


class set_grad_enabled(_GradMode):
    """set_grad_enabled(False) switches the mode at once (a function call); as a context it restores it on exit."""

    def __init__(self, mode):
        self.mode, self._before = bool(mode), _mode.enabled
        _mode.enabled = self.mode

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _mode.enabled = self._before

    def __call__(self, fn):
        raise TypeError("use bpnet.no_grad() or bpnet.enable_grad() as a decorator")
