"""The line for a training slot: when every slot is busy, a start waits here, first come first served.

A Ticket holds a start request already validated (its settings, budget and any model to train on were checked
when it joined, so its turn cannot bring a settings error). The JobManager starts the first ticket whose owner is
connected as soon as a slot frees; an owner who has left is passed over (keeping its place) until the grace
period ends, then dropped. Waits are estimated from the budget's duration of each job (engine/budget.py) and the
pace it asked for: the slots' remaining times, then the tickets ahead, one by one into the first free slot.
"""
import heapq
import itertools
import math
import time

from bpnet.engine.budget import estimate

__all__ = ["Ticket", "WaitingLine", "expected_seconds", "waits", "ordinal"]

_ids = itertools.count(1)
START_SECONDS = 1.0  # a job's start and end besides its steps (data, worker, final metrics, archive): measured
# with bench/load.py --class (30 short jobs of 2 s of paced steps took 3.4 s each through worker processes)


def expected_seconds(configs):
    """How long a job of these runs (trained side by side) takes, about: the budget's estimate of their work, or
    their steps at the pace limit the job asked for, if that is slower."""
    compute = sum(estimate(c).seconds for c in configs)
    steps = max(c["epochs"] * math.ceil(_train_size(c) / c["batch_size"]) for c in configs)
    pace = configs[0].get("pace") or 0
    return max(compute, steps / pace if pace else 0.0) + START_SECONDS


def _train_size(c):
    return c["n_samples"] if c["task"] == "mnist" else c["n_samples"] - max(1, round(c["n_samples"] * c["val_fraction"]))


class Ticket:
    """A start request waiting for a slot."""

    __slots__ = ("id", "owner", "spec", "configs", "joined", "seconds")

    def __init__(self, owner, spec, configs):
        self.id, self.owner, self.spec, self.configs = f"t{next(_ids)}", owner, spec, configs
        self.joined = time.monotonic()
        self.seconds = expected_seconds(configs)


class WaitingLine:
    """Tickets in the order they came; not thread-safe (the JobManager's lock guards it)."""

    def __init__(self):
        self._tickets = []

    def __len__(self):
        return len(self._tickets)

    def __iter__(self):
        return iter(list(self._tickets))

    def add(self, ticket):
        self._tickets.append(ticket)

    def of(self, owner):
        return next((t for t in self._tickets if t.owner == owner), None)

    def position(self, ticket):
        """1 for the first in line."""
        return self._tickets.index(ticket) + 1

    def remove(self, owner):
        """The owner's ticket, taken out of the line (None if it had none)."""
        ticket = self.of(owner)
        if ticket is not None:
            self._tickets.remove(ticket)
        return ticket

    def take_first(self, present):
        """The first ticket whose owner is present (connected), taken out of the line; None if there is none."""
        ticket = next((t for t in self._tickets if present(t.owner)), None)
        if ticket is not None:
            self._tickets.remove(ticket)
        return ticket

    def clear(self):
        tickets, self._tickets = self._tickets, []
        return tickets


def waits(remaining, tickets, slots):
    """Seconds until each ticket starts, in line order: `remaining` the running jobs' remaining seconds, `slots`
    the server's; each ticket goes into the slot that frees first and holds it for its own estimate."""
    free = sorted(list(remaining)[:slots]) + [0.0] * max(0, slots - len(remaining))
    heapq.heapify(free)
    out = []
    for t in tickets:
        start = heapq.heappop(free)
        out.append(start)
        heapq.heappush(free, start + t.seconds)
    return out


def ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
