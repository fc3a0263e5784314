"""Training gives way: a job's thread (and only it) runs at a lower CPU priority than the server's threads."""
import os
import sys
import threading

import pytest

from bpnet.engine.job import Job
from bpnet.engine.priority import TRAINING_NICENESS, give_way

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")

TINY = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [8, 8], "batch_size": 16, "epochs": 2}


def niceness_of(tid):
    return os.getpriority(os.PRIO_PROCESS, tid)


def in_thread(fn):
    """fn() on a new thread; (its result, the thread's niceness after it)."""
    out = {}

    def body():
        out["result"] = fn()
        out["after"] = niceness_of(threading.get_native_id())
    t = threading.Thread(target=body)
    t.start()
    t.join()
    return out["result"], out["after"]


def test_give_way_lowers_only_the_calling_threads_priority():
    before = niceness_of(threading.get_native_id())
    result, after = in_thread(give_way)
    assert after == result == max(before, TRAINING_NICENESS)
    assert niceness_of(threading.get_native_id()) == before  # the caller of the thread is unchanged


def test_give_way_never_raises_a_priority():
    result, after = in_thread(lambda: (give_way(15), give_way(5))[1])
    assert result == after == max(15, niceness_of(threading.get_native_id()))


def test_a_jobs_training_thread_runs_at_the_training_niceness_and_the_caller_keeps_its_own():
    before = niceness_of(threading.get_native_id())
    job = Job(TINY)
    job.start()
    assert job.wait(60) and job.state == "finished"  # (the bound only guards a hang: wait returns at the end)
    assert job.niceness == max(TRAINING_NICENESS, before)
    assert niceness_of(threading.get_native_id()) == before
