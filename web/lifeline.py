"""A child process that ends when its parent does, however the parent ended.

The worker pool's processes and its queue manager are ended by the web process's clean-up on a normal stop.
If the web process is killed instead (SIGKILL, the OOM killer, gunicorn's graceful timeout), no clean-up of
its runs, and those children would wait for it forever, holding memory and a job's CPU.
"""
import os
import threading
import time

__all__ = ["exit_with_parent"]

INTERVAL = 0.2  # seconds between two looks at the parent


def exit_with_parent(parent):
    """Start a thread that ends this process at once when `parent` (a pid) is no longer its parent."""
    def watch():
        while os.getppid() == parent:
            time.sleep(INTERVAL)
        os._exit(0)  # the parent is gone: nothing here has anyone left to report to
    threading.Thread(target=watch, name="lifeline", daemon=True).start()
