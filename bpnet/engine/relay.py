"""Batch a job's events into one message per interval, and slot a watcher's history in between them.

Framework-free: `emit(name, data, to)` is whatever delivers messages (Flask-SocketIO in the web process,
python-socketio's Redis manager in a remote worker). Events of job J go to room "job:J" as one 'events'
message per flush; a history goes to one client ('history'), after every event buffered before it.
"""
import threading
import time

__all__ = ["Relay", "room_of"]


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
        with self.lock:
            with self._buffer_lock:
                batch, self._buffer = self._buffer, []
            if batch:
                self.emit("events", batch, room_of(self.job_id))
                self.sent += 1

    def deliver_history(self, history, to):
        """Send a history to one client after the events made before it (it may drop those by seq)."""
        with self.lock:
            self.flush()
            self.emit("history", history, to)

    def run(self, done):
        """Flush every interval until done() is true, then once more."""
        while not done():
            time.sleep(self.flush_interval)
            self.flush()
        self.flush()
