"""Adam's update fused into one pass over the arrays, compiled by numba when it is installed.

numpy needs a dozen passes over the parameters for one Adam step (it has no fused multiply-add), and on a
2-core machine those passes cost half as much as the network's matrix products. This loop does the same
operations in the same order as the readable reference (Adam._update, PyTorch's update on PyTorch's state),
element by element, so its results are bitwise those of the numpy passes (no fast-math: no reassociation, no
contraction into FMAs). BPNET_NUMBA=0 keeps to numpy alone.
"""
import logging
import math
import threading

import numpy as np

from .. import _numba

__all__ = ["adam_kernel", "warm_up"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_kernel = None
_tried = False


def _adam_loop(data, g, m, v, vmax, c1, b2, c2, step_size, eps, decay, shrink, l2, amsgrad, maximize):
    """In place, element by element, the numpy passes of Adam._update in their order (vmax: with amsgrad)."""
    for i in range(data.shape[0]):
        gi = -g[i] if maximize else g[i]
        di = data[i] * shrink  # AdamW's decay (shrink is exactly 1 otherwise)
        if l2:
            gi = gi + decay * di
        mi = m[i] + c1 * (gi - m[i])
        vi = v[i] * b2 + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if vmax[i] < vi or vi != vi:  # np.maximum: the larger, NaN if either is
                vmax[i] = vi
            vi = vmax[i]
        data[i] = di - step_size * (mi / (math.sqrt(vi) + eps))


def _compile():
    """The loop compiled and tried on both dtypes, or None (numpy then does the update)."""
    if not _numba.enabled():
        return None
    try:
        kernel = _numba.njit(_adam_loop)
        for f in (np.float32, np.float64):  # one step from m = v = 0 with g = 1 moves p by the step size
            p, m = np.ones(3, f), np.zeros(3, f)
            kernel(p, p.copy(), m, m.copy(), m.copy(), f(0.1), f(0.999), f(0.001), f(5.0 * 0.001 ** 0.5), f(1e-8),
                   f(0.0), f(1.0), False, False, False)
            if not np.allclose(p, 0.5):
                raise ValueError(f"wrong result {p}")
        return kernel
    except Exception as exc:  # a numba that cannot compile here: numpy does the update
        log.warning("numba could not compile the fused Adam update (%s); using numpy", exc)
        return None


def adam_kernel():
    """The compiled loop, or None when numba is missing, broken or switched off (BPNET_NUMBA=0)."""
    global _kernel, _tried
    with _lock:
        if not _tried:
            _kernel, _tried = _compile(), True
        return _kernel


def warm_up():
    """Compile (or load from the cache) bpnet's loops now, Adam's update and the layers' (nn.kernels), so that no
    training step waits for them."""
    from ..nn import kernels  # (nn does not import optim: no cycle)
    adam_kernel()
    kernels.warm_up()
