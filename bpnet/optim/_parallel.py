"""Run an elementwise update over many arrays on all cores: cut their concatenation into equal spans."""
import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["num_threads", "parallel_spans"]

_MIN_PARALLEL = 1 << 17  # below this many elements a thread hand-off costs more than it saves
_pool = None
_pool_lock = threading.Lock()


def num_threads():
    """Threads for elementwise work: OPENBLAS_NUM_THREADS or OMP_NUM_THREADS if set, else the usable cores."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _executor(workers):
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bpnet-optim")
        return _pool


def _spans(sizes, parts):
    """Split items of the given sizes into `parts` lists of (item, start, stop) covering equal element counts."""
    total = sum(sizes)
    bounds = [total * k // parts for k in range(parts + 1)]
    out, offset = [[] for _ in range(parts)], 0
    for item, size in enumerate(sizes):
        for part in range(parts):
            lo, hi = max(bounds[part], offset), min(bounds[part + 1], offset + size)
            if lo < hi:
                out[part].append((item, lo - offset, hi - offset))
        offset += size
    return out


def parallel_spans(sizes, work):
    """Call work(item, start, stop) over spans covering every element of every item, on up to num_threads()."""
    parts = min(num_threads(), max(1, sum(sizes) // (_MIN_PARALLEL // 2)))
    groups = _spans(sizes, parts)
    run = lambda group: [work(*span) for span in group]  # noqa: E731
    if parts == 1:
        run(groups[0])
        return
    futures = [_executor(parts - 1).submit(run, g) for g in groups[1:]]
    run(groups[0])
    for f in futures:
        f.result()
