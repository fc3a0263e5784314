"""Compiled loops (numba) for the layers' gather and scatter work, each the fast path beside a numpy reference in
its layer and tested equal to it (tests/test_kernels.py: bitwise, same operations in the same order):

- 2x2 max pooling (the common one) in one pass over the input, keeping each window's argmax; its gradient
  routed by that argmax;
- im2col (the convolution's columns) and col2im (their gradient summed back, one pass over the image);
- ReLU's output and mask in one pass; 2x2 max pooling with the ReLU before it (the pair fused: pooling.py).

numpy does each of these as one strided pass per kernel offset, over views whose memory order rarely matches;
here every array is walked once, in its memory order. The 4-D arrays are "planes first": (A, B, H, W) with any
order of the two plane axes (a convolution's output is stored channel-major), image rows and columns last.
`get(name)` is None without numba or with BPNET_NUMBA=0: the layers then run their numpy reference.

The loops release the GIL: `run` splits one over the images of a batch (or the planes) and runs the parts on
as many threads as numpy's BLAS uses (OPENBLAS_NUM_THREADS, else every core this process may use), each
element computed exactly as on one thread.
"""
import concurrent.futures
import os
import threading

import numpy as np

from .. import _numba

__all__ = ["get", "describe", "warm_up", "run", "threads", "relu", "max_pool2", "max_pool2_grad", "im2col",
           "col2im"]

# elements: smaller work runs on the calling thread alone. A hand-over to the pool costs ~50-100 us on 2 cores, so
# ReLU of 128 x 512 (12 us alone) took 100 us split in two, 2^18 elements 118 us against 66; from 2^20 the split
# wins (258 us against 339), and a CNN's maps (10^6 elements and more per layer at batch 128) are split.
_SERIAL_BELOW = 1 << 19


def threads():
    """How many threads the loops use: as many as numpy's BLAS (OPENBLAS_NUM_THREADS or OMP_NUM_THREADS if
    set, else the cores this process may run on)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_pool = None


def _drop_pool():
    global _pool
    _pool = None  # (a forked child has none of its parent's threads)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_pool)


def run(part, n, size):
    """part(lo, hi) for contiguous ranges covering range(n), on up to threads() threads at once (this thread
    takes the first range); `size` (elements of the work) below _SERIAL_BELOW: part(0, n) here alone."""
    global _pool
    count = min(threads(), n) if size >= _SERIAL_BELOW else 1
    if count <= 1:
        part(0, n)
        return
    with _lock:
        if _pool is None or _pool._max_workers < count - 1:
            _pool = concurrent.futures.ThreadPoolExecutor(count - 1, thread_name_prefix="bpnet-loops")
        pool = _pool
    bounds = [n * k // count for k in range(count + 1)]
    futures = [pool.submit(part, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    part(bounds[0], bounds[1])
    for future in futures:
        future.result()


def relu(x, y, mask):
    """y = max(x, 0) (a NaN stays NaN) and mask = x > 0, in one pass over flat arrays, as ReLU's numpy
    reference computes them in two."""
    for k in range(x.shape[0]):
        v = x[k]
        positive = v > 0
        mask[k] = positive
        y[k] = v if positive or v != v else 0


def max_pool2(x, sh, sw, ph, pw, relu, y, argmax):
    """2x2 windows: y[a, b] = the max of each window of x[a, b] (padding: -inf), argmax = its first max in
    scan order 0..3 (a NaN counts as the max: the first NaN), as MaxPool2d's numpy reference computes them.

    The window is unrolled and the comparisons are plain `>` (a loop over a window whose size is known only at
    run time, or a NaN test in each comparison, is ten times slower); a plane holding a NaN is redone with the
    NaN-aware comparison.

    relu=True: ReLU of the result too (the pair ReLU -> MaxPool2d, fused: pooling.py): a window whose max is
    not positive outputs 0 (a NaN stays NaN) with argmax 4, no element of it (ReLU's gradient there is 0)."""
    n_a, n_b, h, w = x.shape
    zero = y.dtype.type(0)
    oh_n, ow_n = y.shape[2], y.shape[3]
    padded = ph > 0 or pw > 0
    plane = np.full((h + 2 * ph, w + 2 * pw) if padded else (0, 0), -np.inf, dtype=x.dtype)
    for a in range(n_a):
        for b in range(n_b):
            src = x[a, b]
            if padded:
                plane[ph:ph + h, pw:pw + w] = src
                src = plane
            nan = False
            for oh in range(oh_n):
                r = oh * sh
                for ow in range(ow_n):
                    c = ow * sw
                    v0, v1, v2, v3 = src[r, c], src[r, c + 1], src[r + 1, c], src[r + 1, c + 1]
                    best, first = v0, 0
                    if v1 > best:
                        best, first = v1, 1
                    if v2 > best:
                        best, first = v2, 2
                    if v3 > best:
                        best, first = v3, 3
                    if relu and not best > 0:
                        best, first = zero, 4  # (a NaN max is redone below)
                    y[a, b, oh, ow] = best
                    argmax[a, b, oh, ow] = first
                    total = v0 + v1 + v2 + v3
                    nan |= total != total  # (also for infinities of both signs: then this plane is redone too)
            if nan:  # this plane again, NaN-aware: a NaN is its window's max (the first NaN of it)
                for oh in range(oh_n):
                    for ow in range(ow_n):
                        best, first = src[oh * sh, ow * sw], 0
                        for k in range(1, 4):
                            v = src[oh * sh + (k >> 1), ow * sw + (k & 1)]
                            if v > best or (v != v and best == best):
                                best, first = v, k
                        if relu and not best > 0:
                            best, first = (best if best != best else zero), 4
                        y[a, b, oh, ow] = best
                        argmax[a, b, oh, ow] = first


def max_pool2_grad(dy, argmax, sh, sw, dx):
    """dx (padded, zeros) = each dy routed to its 2x2 window's argmax (argmax 4, left by max_pool2 with relu on
    windows that do not overlap: to none of them). Windows that do not overlap write each element they cover
    once; overlapping windows add into zeros, outputs walked last to first so that each element sums its shares
    in offset order, as the numpy reference's one pass per offset does."""
    n_a, n_b, oh_n, ow_n = dy.shape
    zero = dx.dtype.type(0)
    for a in range(n_a):
        for b in range(n_b):
            if sh >= 2 and sw >= 2:
                for oh in range(oh_n):
                    for ow in range(ow_n):
                        k, g, r, c = argmax[a, b, oh, ow], dy[a, b, oh, ow], oh * sh, ow * sw
                        dx[a, b, r, c] = g if k == 0 else zero
                        dx[a, b, r, c + 1] = g if k == 1 else zero
                        dx[a, b, r + 1, c] = g if k == 2 else zero
                        dx[a, b, r + 1, c + 1] = g if k == 3 else zero
            else:
                for oh in range(oh_n - 1, -1, -1):
                    for ow in range(ow_n - 1, -1, -1):
                        k = argmax[a, b, oh, ow]
                        dx[a, b, oh * sh + (k >> 1), ow * sw + (k & 1)] += dy[a, b, oh, ow]


def im2col(x, kh, kw, sh, sw, top, left, oh_n, ow_n, cols):
    """cols[(c, i, j), (n, oh, ow)] = x[c, n, oh sh - top + i, ow sw - left + j], 0 outside the image: each
    image plane copied once into a padded plane in cache, then its KH*KW shifted views into the columns."""
    n_c, n_n, h, w = x.shape
    plane = np.zeros(((oh_n - 1) * sh + kh, (ow_n - 1) * sw + kw), dtype=x.dtype)
    rows, width = max(0, min(h, plane.shape[0] - top)), max(0, min(w, plane.shape[1] - left))
    for c in range(n_c):
        for n in range(n_n):
            plane[top:top + rows, left:left + width] = x[c, n, :rows, :width]
            for i in range(kh):
                for j in range(kw):
                    dst = cols[(c * kh + i) * kw + j, n * oh_n * ow_n:(n + 1) * oh_n * ow_n]
                    if sw == 1:
                        for oh in range(oh_n):
                            d = dst[oh * ow_n:(oh + 1) * ow_n]
                            s = plane[oh * sh + i, j:j + ow_n]
                            for ow in range(ow_n):
                                d[ow] = s[ow]
                    else:
                        for oh in range(oh_n):
                            for ow in range(ow_n):
                                dst[oh * ow_n + ow] = plane[oh * sh + i, ow * sw + j]


def col2im(cols, kh, kw, sh, sw, top, left, oh_n, ow_n, dx):
    """dx[c, n] = the sums of the column entries im2col copied each element to, added in kernel-offset order
    (i, j) from 0 as the numpy reference's one add per offset does, in one padded plane kept in cache. With
    stride 1 the innermost loop runs along contiguous rows of both (and vectorises)."""
    n_c, n_n, h, w = dx.shape
    plane = np.zeros(((oh_n - 1) * sh + kh, (ow_n - 1) * sw + kw), dtype=dx.dtype)  # the part windows reach
    rows, width = max(0, min(h, plane.shape[0] - top)), max(0, min(w, plane.shape[1] - left))
    for c in range(n_c):
        for n in range(n_n):
            plane[:] = 0
            for i in range(kh):
                for j in range(kw):
                    src = cols[(c * kh + i) * kw + j, n * oh_n * ow_n:(n + 1) * oh_n * ow_n]
                    if sw == 1:
                        for oh in range(oh_n):
                            dst = plane[oh * sh + i, j:j + ow_n]
                            s = src[oh * ow_n:(oh + 1) * ow_n]
                            for ow in range(ow_n):
                                dst[ow] += s[ow]
                    else:
                        for oh in range(oh_n):
                            for ow in range(ow_n):
                                plane[oh * sh + i, ow * sw + j] += src[oh * ow_n + ow]
            dx[c, n, :rows, :width] = plane[top:top + rows, left:left + width]


_LOOPS = {"relu": relu, "max_pool2": max_pool2, "max_pool2_grad": max_pool2_grad, "im2col": im2col, "col2im": col2im}
_lock = threading.Lock()
_compiled = {}


def get(name):
    """The compiled loop `name`, or None without numba or with BPNET_NUMBA=0 (the numpy reference runs)."""
    with _lock:
        if name not in _compiled:
            _compiled[name] = _numba.njit(_LOOPS[name]) if _numba.enabled() else None
        return _compiled[name]


def describe():
    """What the layers run, for benchmarks' headers."""
    return "numba" if _numba.enabled() else "numpy (no numba, or BPNET_NUMBA=0)"


def warm_up():
    """Compile (or load from the cache) every loop for float32, so that no training step waits for it."""
    f = np.float32
    x = np.zeros((1, 1, 4, 4), f)
    if get("max_pool2") is None:
        return
    y, argmax, cols = np.zeros((1, 1, 2, 2), f), np.zeros((1, 1, 2, 2), np.uint8), np.zeros((9, 16), f)
    get("relu")(x.ravel(), x.ravel(), np.zeros(16, np.bool_))
    get("max_pool2")(x, 2, 2, 0, 0, False, y, argmax)
    get("max_pool2")(x, 2, 2, 0, 0, True, y, argmax)
    get("max_pool2_grad")(y, argmax, 2, 2, x)
    get("im2col")(x, 3, 3, 1, 1, 1, 1, 4, 4, cols)
    get("col2im")(cols, 3, 3, 1, 1, 1, 1, 4, 4, x)
