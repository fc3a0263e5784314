"""Batch a job's events into one message per interval, and slot a watcher's history in between them.

Framework-free: `emit(name, data, to)` is whatever delivers messages (Flask-SocketIO in the web process,
python-socketio's Redis manager in a remote worker). Events of job J go to room "job:J" as one 'events'
message per flush; a history goes to one client ('history'), after every event buffered before it.
"""
import logging
import threading
import time

__all__ = ["Relay", "room_of"]

log = logging.getLogger("bpnet.engine")


def room_of(job_id):
    return f"job:{job_id}"


class Relay:
    """Collects events with add(); flush() sends them as one 'events' message to the job's room."""

    def __init__(self, job_id, emit, flush_interval=0.1):
        self.job_id, self.emit, self.flush_interval = job_id, emit, flush_interval
        self.lock = threading.RLock()  # held while emitting: messages leave in the order they were made
        self._buffer = []
        self._buffer_lock = threading.Lock()
        self.sent = 0

    def add(self, event):
        if event["type"] != "history":
            with self._buffer_lock:
                self._buffer.append(event)

    def flush(self):
        """Send the buffered events as one message; if emit raises, they stay buffered, in order, and it re-raises."""
        with self.lock:
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if batch:
                try:
                    self.emit("events", batch, room_of(self.job_id))
                except Exception:
                    with self._buffer_lock:
                        self._buffer[:0] = batch
                    raise
                self.sent += 1

    def pending(self):
        """Events buffered and not sent yet."""
        with self._buffer_lock:
            return len(self._buffer)

    def deliver_history(self, history, to):
        """Send a history to one client after the events made before it (it may drop those by seq)."""
        with self.lock:
            self.flush()
            self.emit("history", history, to)

    def run(self, done):
        """Flush every interval until done() is true, then once more (a failed flush is tried again next time)."""
        failing = False
        while True:
            finished = done()
            if not finished:
                time.sleep(self.flush_interval)
            try:
                self.flush()
                failing = False
            except Exception as exc:  # noqa: BLE001 - e.g. the message queue is away: the events wait
                if not failing:
                    log.warning("job %s: could not send its events (%s); they wait to be sent", self.job_id, exc)
                failing = True
            if finished:
                return
