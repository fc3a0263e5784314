"""A class on one server: N students press Start at about the same moment on a server with few training slots.

Each student is a Socket.IO client of the production server (gunicorn, BPNET_WORKERS=processes) starting a short
job; those who find every slot busy wait in line ('queue' events) and take their job up when it starts, as the page
does. Reports: runs finished (every one must), events lost or out of order, whether the runs started in the order
their students joined the line (first come, first served), the waits (median, longest), the first estimate each
student was shown against the wait it had, and the places each saw (only ever moving up).

    python bench/load.py --class 30 [--slots 2]
"""
import statistics
import sys
import threading
import time

from load import Client  # noqa: E402 - run through bench/load.py (its directory is on the path)
from web_latency import free_port, server_log, start_server

JOB = {"task": "function", "formula": "sin(3*x)", "n_samples": 200, "hidden": [16, 16], "epochs": 40, "pace": 100}  # 2 s


class Student(Client):
    """A page: presses Start, waits in line if it must, follows its job to the end."""

    def __init__(self, url):
        super().__init__(url)
        self.places, self.estimate, self.joined, self.began, self.job_id, self.refusal = [], None, None, None, None, None
        self.ticket = self.order = None  # the place it joined at (t1, t2, ... as it joined) and when the server started it
        self.started = threading.Event()
        self.sio.on("queue", self._queue)

    def press_start(self):
        self.joined = time.monotonic()
        ack = self.sio.call("start", {"config": JOB}, timeout=60)
        if not ack.get("ok"):
            self.refusal = ack.get("message")
        elif ack.get("queued"):
            self._queue(ack)
        else:
            self._began(ack["job_id"])

    def _queue(self, q):
        if q.get("state") == "queued":
            self.ticket = int(q["ticket"][1:])
            self.places.append(q["position"])
            if self.estimate is None:
                self.estimate = q["wait"]
        elif q.get("state") == "started":
            self.order = q["order"]
            threading.Thread(target=self.sio.call, args=("watch", {"job_id": q["job_id"]}), daemon=True).start()
            self._began(q["job_id"])
        else:
            self.refusal = q.get("message")

    def _began(self, job_id):
        self.job_id, self.began = job_id, time.monotonic()
        self.started.set()


def run_class(students, slots, deadline):
    server, url = start_server(free_port(), dev=False, env_extra={
        "BPNET_WORKERS": "processes", "OPENBLAS_NUM_THREADS": "1", "BPNET_MAX_JOBS": str(slots),
        "BPNET_KEEP_FINISHED": str(students + 10)})
    try:
        t0 = time.monotonic()
        class_ = [Student(url) for _ in range(students)]
        for s in class_:  # one after another, a few milliseconds apart: the order they joined is known
            s.press_start()
        end = time.monotonic() + deadline
        for s in class_:
            s.done.wait(max(0.0, end - time.monotonic()))
        wall = time.monotonic() - t0
        report(class_, slots, wall)
        for s in class_:
            s.sio.disconnect()
        ok = all(s.done.is_set() for s in class_) and not sum(s.lost for s in class_)
    finally:
        server.terminate()
        server.wait(20)
        problems = [line for line in server_log(server, 100000).splitlines() if line.strip()]
        print(f"server stderr: {len(problems)} lines" + "".join(f"\n  {p}" for p in problems[-10:]))
    return ok


def report(class_, slots, wall):
    n = len(class_)
    finished = sum(s.done.is_set() for s in class_)
    refused = [s.refusal for s in class_ if s.refusal]
    waited = [s for s in class_ if s.places]
    # first come, first served: the server started them (its own count) in the order they joined (their tickets)
    by_start = [s.ticket for s in sorted((s for s in waited if s.order is not None), key=lambda s: s.order)]
    fair = by_start == sorted(by_start) and len(by_start) == len(waited)
    waits = [s.began - s.joined for s in class_ if s.began is not None]
    moving_up = all(all(a >= b for a, b in zip(s.places, s.places[1:])) for s in waited)
    print(f"class of {n} on {slots} slots, {wall:.1f} s: {finished}/{n} runs finished, {n - finished} lost; "
          f"refused: {len(refused)}{' (' + refused[0] + ')' if refused else ''}")
    print(f"events lost: {sum(s.lost for s in class_)}, out of order: {sum(s.out_of_order for s in class_)}")
    print(f"waited in line: {len(waited)}; started in the order they joined: {'yes' if fair else 'NO'}; "
          f"places only moved up: {'yes' if moving_up else 'NO'}")
    if waits:
        print(f"wait for a slot: median {statistics.median(waits):.1f} s, longest {max(waits):.1f} s")
    shown = [(s.estimate, s.began - s.joined) for s in waited if s.began is not None]
    if shown:
        ratios = [est / max(real, 0.1) for est, real in shown]
        print(f"first estimate shown / wait had: median {statistics.median(ratios):.2f}, "
              f"range {min(ratios):.2f}-{max(ratios):.2f} (the last in line: {shown[-1][0]} s shown, "
              f"{shown[-1][1]:.0f} s waited)")


if __name__ == "__main__":
    sys.exit("run it through bench/load.py --class N")
