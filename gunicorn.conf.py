"""Gunicorn settings, read automatically from the working directory by `gunicorn ... app:app`.

On SIGTERM the worker stops every training job at once (they end between two steps, in state 'stopped')
and gunicorn waits at most `graceful_timeout` seconds for open connections, so shutdown takes a few seconds.
"""
import signal

graceful_timeout = 5


def post_worker_init(worker):
    previous = signal.getsignal(signal.SIGTERM)

    def stop_jobs_then_exit(signum, frame):
        manager = worker.wsgi.extensions.get("bpnet_jobs") if hasattr(worker.wsgi, "extensions") else None
        if manager is not None:
            manager.stop_all(timeout=3)
            manager.backend.shutdown()  # the worker pool and its queue manager: none may outlive this process
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop_jobs_then_exit)
