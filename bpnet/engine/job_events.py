"""A job's events: subscribers, their order, and delivery outside the job's locks (a mixin of Job).

Events are made under the job's lock (`_EventLock`) and queued; the thread that releases the lock last delivers
the queue in order, one event at a time, so a listener may call any method of the job.
"""
import collections
import logging
import threading
import time

from .events import clean

__all__ = ["JobEvents"]

log = logging.getLogger("bpnet.engine")


class _EventLock:
    """A re-entrant lock that calls on_release() when its holder leaves the outermost `with` (then unlocked)."""

    def __init__(self, on_release):
        self._lock, self._depth, self._on_release = threading.RLock(), threading.local(), on_release

    def __enter__(self):
        self._lock.acquire()
        self._depth.n = getattr(self._depth, "n", 0) + 1
        return self

    def __exit__(self, *exc):
        self._depth.n -= 1
        outermost = self._depth.n == 0
        self._lock.release()
        if outermost:
            self._on_release()


class JobEvents:
    """subscribe(), send_history() and the event queue of a Job (which sets id, state, message, kind, _pace and
    recorders)."""

    def _init_events(self):
        self._lock = _EventLock(self._deliver)  # state, subscribers, seq, histories: held briefly; the events
        # made under it are delivered once it is released, so a listener runs outside it
        self._outbox = collections.deque()  # (event, callbacks, delivered) in seq order, delivered by _deliver
        self._delivering = threading.Lock()  # held by the one thread delivering the outbox
        self._deliverer = None
        self._subscribers = {}
        self._seq = 0

    def subscribe(self, callback):
        """Call callback(event) with a 'history' event now, then with every new event; returns unsubscribe().

        Listeners are called outside the job's locks, one event at a time in seq order (from whichever thread
        made the event or is delivering): a listener may call any method of the job, predict() included."""
        token = object()
        with self._lock:
            self._queue(self.history_event(), [(token, callback)])
            self._subscribers[token] = callback
        self.wait_delivered()
        subscribers = self._subscribers
        return lambda: subscribers.pop(token, None)  # (holds the dict, not the job: an ended job can be freed)

    def _emit(self, type_, run=0, **payload):
        """Queue an event for every current subscriber (called with _lock held: delivered once it is released)."""
        with self._lock:
            self._seq += 1
            event = clean({"type": type_, "job_id": self.id, "seq": self._seq, "run": run, "time": time.time(),
                           **payload})
            self._queue(event, list(self._subscribers.items()))

    def _queue(self, event, callbacks):
        self._outbox.append((event, callbacks, threading.Event()))

    def _deliver(self):
        """Deliver the outbox in order, unless another thread is doing so (it then delivers ours too)."""
        while self._outbox:
            if not self._delivering.acquire(blocking=False):
                return
            self._deliverer = threading.get_ident()
            try:
                while self._outbox:
                    event, callbacks, delivered = self._outbox.popleft()
                    for token, callback in callbacks:
                        if token is not None and token not in self._subscribers:
                            continue  # unsubscribed (or dropped) since the event was made
                        try:
                            callback(event)
                        except Exception:  # a broken listener must not stop training
                            log.exception("event listener failed; unsubscribing it")
                            self._subscribers.pop(token, None)
                    delivered.set()
            finally:
                self._deliverer = None
                self._delivering.release()

    def wait_delivered(self):
        """Block until every event made so far has reached every listener (by this thread or the one delivering):
        a host calls it before replying to a request, so the reply comes after the events the request made."""
        with self._lock:
            last = self._outbox[-1][2] if self._outbox else None
        if last is not None and not self._delivering_here():
            last.wait()

    def _delivering_here(self):
        return self._delivering.locked() and self._deliverer == threading.get_ident()

    def send_history(self, send):
        """send(history event) in order with the events: after every event made before it, before any later one."""
        with self._lock:
            self._queue(self.history_event(), [(None, send)])
        self.wait_delivered()

    def history_event(self):
        """Everything so far, for a late or reconnecting subscriber (long series thinned to 5000 points)."""
        with self._lock:
            return clean({"type": "history", "job_id": self.id, "seq": self._seq, "run": 0, "kind": self.kind,
                          "state": self.state, "message": self.message, "pace": self._pace,
                          "runs": [r.summary(limit=5000, reported_only=True) for r in self.recorders]})
