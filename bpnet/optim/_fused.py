"""Adam's update fused into one pass over the arrays, compiled by numba when it is installed.

numpy needs ten passes over the parameters for one Adam step (it has no fused multiply-add), and on a
2-core machine those passes cost half as much as the network's matrix products. This loop does the same
operations in the same order, element by element, so its results are bitwise those of the numpy passes (no
fast-math: no reassociation, no contraction into FMAs). BPNET_NUMBA=0 keeps to numpy alone.
"""
import logging
import math
import os
import threading

import numpy as np

__all__ = ["adam_kernel", "warm_up"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_kernel = None
_tried = False


def _adam_loop(data, g, m, v, b1, b2, step, eps, decay, shrink, l2):
    """In place, element by element, the numpy passes of Adam._update in their order."""
    for i in range(data.shape[0]):
        gi = g[i] + decay * data[i] if l2 else g[i]
        mi = m[i] * b1 + gi
        vi = v[i] * b2 + gi * gi
        m[i] = mi
        v[i] = vi
        data[i] = data[i] * shrink - mi / (math.sqrt(vi) + eps) * step


def _compile():
    """The loop compiled and tried on both dtypes, or None (numpy then does the update)."""
    if os.environ.get("BPNET_NUMBA", "1") == "0":
        return None
    try:
        import numba
    except ImportError:
        return None
    try:
        try:  # machine code cached beside this file, or in the user's cache directory
            kernel = numba.njit(nogil=True, error_model="numpy", cache=True)(_adam_loop)
        except RuntimeError:  # nowhere writable to cache: compile in each process
            kernel = numba.njit(nogil=True, error_model="numpy")(_adam_loop)
        for f in (np.float32, np.float64):
            p, m = np.ones(3, f), np.zeros(3, f)
            kernel(p, p.copy(), m, m.copy(), f(0.9), f(0.999), f(0.5), f(1e-8), f(0.0), f(1.0), False)
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
    """Compile (or load from the cache) the fused update now, so that no training step waits for it."""
    adam_kernel()
