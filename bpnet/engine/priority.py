"""Training gives way: a job's thread runs at a lower CPU priority than the rest of the process.

Training is CPU-bound; on a small machine it shares the cores with the server's socket and HTTP threads and,
often, with the browser showing it. At niceness 10 a job's thread (and the loops' helper threads it starts)
takes what those leave, so pages and events stay prompt while training goes on at nearly full speed: the
pages take little (at most ~25 % of one core, see static/js/core.js). The process backend's workers are
niced as a whole (web/process_backend.py); this is the same for a job run on a thread.
"""
import os
import threading

__all__ = ["TRAINING_NICENESS", "give_way"]

TRAINING_NICENESS = 10


def give_way(niceness=TRAINING_NICENESS):
    """Lower the calling thread's CPU priority to `niceness` (Linux: a thread's own; never raised, never an
    error: where it is not allowed or not supported, the thread keeps its priority). The thread's niceness."""
    if not hasattr(os, "setpriority"):
        return None
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:
        return None
