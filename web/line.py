"""The JobManager's waiting line for a training slot (a mixin: the manager's lock guards its state).

When every slot is busy a start joins the line (web/waiting.py: the Ticket, the order, the estimated waits); a
dispatcher thread starts the first waiting request whose owner is connected whenever a slot frees (it looks every
POLL s, and at once when woken: a start, a leave, a client back), and tells everyone waiting their place, when it
changes and every ANNOUNCE_EVERY s, through manager.notify(sids, payload) ('queue' events, web/sockets.py).
"""
import logging
import threading
import time

from .backends import ServiceError, page_of
from .waiting import Ticket, expected_seconds, ordinal, waits

__all__ = ["LineMixin", "POLL", "ANNOUNCE_EVERY"]

log = logging.getLogger("bpnet.web")
POLL = 0.25  # seconds between two looks for a free slot when nothing wakes the line
ANNOUNCE_EVERY = 5.0  # seconds between two updates of the places in line (their waits count down)
MIN_WAIT = 1.0  # a running job past its estimate is taken to end within a second or so


def _expected(entry):
    """A running job's expected duration (computed once)."""
    if entry.expected is None:
        job = entry.job
        try:
            configs = job.configs
        except AttributeError:  # a Job training here (its configs are its trainers')
            configs = [t.config for t in job.trainers]
        entry.expected = expected_seconds(configs)
    return entry.expected


class LineMixin:
    """_join, leave, line_status, waiting_count and the dispatcher of JobManager (which sets _line, _lock,
    _connections, _jobs, _starting, _wake, _closed, notify and defines _check_owner and _launch)."""

    # --- the line for a slot (web/waiting.py) ------------------------------------------------------
    def _join(self, owner, spec, configs):
        with self._lock:
            self._check_owner(owner)  # (another tab of this session may have started or joined meanwhile)
            ticket = Ticket(owner, spec, configs)
            self._line.add(ticket)
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(target=self._dispatch_loop, name="bpnet-line", daemon=True)
                self._dispatcher.start()
        log.info("client %s waits for a slot (%d in line)", owner[:8], len(self._line))
        self._wake.set()
        return ticket

    def leave(self, owner, message="you left the line"):
        """Take the owner's start out of the line; tells its pages. False if it was not waiting."""
        with self._lock:
            ticket = self._line.remove(owner)
            sids = list(self._connections.get(owner, ()))
        if ticket is None:
            return False
        self.notify(sids, {"ticket": ticket.id, "state": "left", "message": message})
        self._wake.set()  # the others move up
        return True

    def line_status(self, owner):
        """The 'queue' event payload for the owner's place in line (None if it is not waiting)."""
        with self._lock:
            return self._statuses().get(owner)

    def waiting_count(self):
        with self._lock:
            return len(self._line)

    def _statuses(self):
        """{owner: payload} for everyone in line (under the lock): place, people ahead, expected wait."""
        now = time.monotonic()
        tickets = list(self._line)
        running = [e for e in self._jobs.values() if not e.job.done]
        remaining = [max(MIN_WAIT, _expected(e) - (now - e.created_mono)) for e in running]
        expected = waits(remaining, tickets, self.max_running)
        return {t.owner: {"ticket": t.id, "state": "queued", "position": i + 1, "ahead": i, "wait": round(w),
                          "place": ordinal(i + 1), "slots": self.max_running, "waiting": len(tickets)}
                for i, (t, w) in enumerate(zip(tickets, expected))}

    def _announce(self):
        with self._lock:
            out = [(list(self._connections.get(owner, ())), payload) for owner, payload in self._statuses().items()]
        for sids, payload in out:
            self.notify(sids, payload)

    def _dispatch_loop(self):
        """Start the first waiting request whose owner is here whenever a slot is free; tell the line its
        places when they change, and every ANNOUNCE_EVERY s (the wait counts down)."""
        last, shown = 0.0, None
        while not self._closed:
            self._wake.wait(POLL)
            self._wake.clear()
            try:
                started = self._dispatch()
            except ServiceError:  # the slots cannot be counted (Redis or the worker pool down): the line waits
                started = False
            except Exception:  # noqa: BLE001 - a bug must not end the line: it waits, and tries again
                log.exception("could not start the next job in line")
                started = False
            with self._lock:
                order = [t.id for t in self._line]
            if started or order != shown or time.monotonic() - last > ANNOUNCE_EVERY:
                self._announce()
                last, shown = time.monotonic(), order

    def _dispatch(self):
        """Start waiting requests while slots are free; True if one was started."""
        started = False
        while True:
            with self._lock:
                running = set(self.backend.active_owners(list(self._jobs.values()))) | set(self._starting)
                if len(running) >= self.max_running:
                    return started
                ticket = self._line.take_first(lambda owner: owner in self._connections and owner not in running)
                if ticket is None:
                    return started
                self._starting.append(ticket.owner)
            try:
                job = self._launch(ticket.owner, ticket.spec, ticket.configs)
                self._started_from_line += 1
                payload = {"ticket": ticket.id, "state": "started", "job_id": job.id, "page": page_of(job),
                           "order": self._started_from_line}  # the how-manieth start from the line
                log.info("client %s: its job %s starts after %.1f s in line", ticket.owner[:8], job.id,
                         time.monotonic() - ticket.joined)
                started = True
            except (ServiceError, ValueError) as exc:
                payload = {"ticket": ticket.id, "state": "refused", "message": str(exc)}
            finally:
                with self._lock:
                    self._starting.remove(ticket.owner)
            with self._lock:
                sids = list(self._connections.get(ticket.owner, ()))
            self.notify(sids, payload)
