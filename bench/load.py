"""A classroom at once: 50 socket clients watching, 8 of them training, against the production server.

Starts the Docker image's command (gunicorn -w 1 --threads 100, BPNET_WORKERS=processes) on a free local
port, connects 50 clients: 8 start a job each, the other 42 watch one of those jobs through its share id.
Reports engine-to-client event latency (p50/p95), HTTP p95 during the run, events lost or out of order,
whether every client saw its job finish, the web process's CPU use, that the per-client and global limits
held, and the web process's memory after 100 jobs have run (growth per job). Bounded: localhost only,
a fixed number of clients and jobs, and a deadline.

    python bench/load.py [--clients 50] [--trainers 8] [--jobs 100] [--deadline 600]
    python bench/load.py --soak 200 [--backend threads|processes|redis|all]    (bench/soak.py)
    python bench/load.py --class 30 [--slots 2]    a class starting runs at once: the line (bench/class_line.py)
"""
import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from web_latency import InOrderClient, free_port, percentiles, server_log, start_server  # noqa: E402

JOB = {"task": "function", "formula": "sin(3*x)", "n_samples": 200, "hidden": [16, 16], "epochs": 600, "pace": 100}  # 30 s
SHORT = dict(JOB, epochs=20)


def proc_stat(pid):
    """(CPU seconds used, resident memory in MiB) of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    return cpu, rss


def web_pid(server):
    """gunicorn's worker process (the one serving): the master's only child."""
    children = open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()
    return int(children[0]) if children else server.pid


class Client:
    """One browser: follows a job, keeps every event, measures latency, checks order."""

    def __init__(self, url):
        self.sio = InOrderClient(reconnection=False)
        self.events, self.latencies, self.history_seq, self.lost, self.out_of_order = [], [], None, 0, 0
        self.done = threading.Event()
        self.sio.on("history", self._history)
        self.sio.on("events", self._events)
        self.sio.connect(url, transports=["websocket"], wait_timeout=30)
        self.last_seq = 0

    def _history(self, h):
        self.history_seq = self.last_seq = h["seq"]
        if h["state"] in ("finished", "stopped", "failed"):
            self.done.set()

    def _events(self, batch):
        now = time.time()
        if self.history_seq is None:
            return  # like a page: events before the job's history are in it
        for e in batch:
            if e["seq"] <= self.last_seq:
                continue  # already in the history
            if e["seq"] != self.last_seq + 1:
                self.lost += e["seq"] - self.last_seq - 1
                self.out_of_order += e["seq"] < self.last_seq
            self.last_seq = e["seq"]
            self.latencies.append(now - e["time"])
            if e["type"] == "state" and e["state"] in ("finished", "stopped", "failed"):
                self.done.set()


def run_classroom(url, n_clients, n_trainers, deadline):
    clients = [Client(url) for _ in range(n_clients)]
    jobs = []
    for c in clients[:n_trainers]:
        ack = c.sio.call("start", {"config": JOB}, timeout=60)
        if not ack.get("ok"):
            sys.exit(f"a trainer could not start: {ack}")
        jobs.append(ack["job_id"])
    refused_again = sum(not c.sio.call("start", {"config": SHORT}, timeout=30).get("ok")
                        for c in clients[:n_trainers])
    extra = Client(url)
    busy = extra.sio.call("start", {"config": SHORT}, timeout=30)
    for i, c in enumerate(clients[n_trainers:]):
        c.sio.call("watch", {"job_id": jobs[i % len(jobs)]}, timeout=30)
    http = []
    end = time.monotonic() + deadline
    while time.monotonic() < end and (not http or not all(c.done.is_set() for c in clients)):
        t = time.perf_counter()
        urllib.request.urlopen(url + "/healthz", timeout=10).read()
        http.append(time.perf_counter() - t)
        time.sleep(0.1)
    finished = sum(c.done.is_set() for c in clients)
    for c in clients + [extra]:
        c.sio.disconnect()
    return clients, http, finished, refused_again, busy


def run_many_jobs(url, n_jobs, pid):
    """n_jobs short jobs one after another from one client; RSS of the web process along the way."""
    c = Client(url)
    rss = []
    for i in range(1, n_jobs + 1):
        c.done.clear()
        ack = c.sio.call("start", {"config": SHORT}, timeout=60)
        if not ack.get("ok"):
            sys.exit(f"job {i} could not start: {ack}")
        if not c.done.wait(120):
            sys.exit(f"job {i} did not finish")
        time.sleep(0.15)  # let the relay hand the ended job to its archive
        if i % 20 == 0:
            rss.append((i, proc_stat(pid)[1]))
    c.sio.disconnect()
    return rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--trainers", type=int, default=8)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--deadline", type=float, default=600)
    ap.add_argument("--soak", type=int, metavar="JOBS", help="instead: run JOBS jobs of mixed sizes (bench/soak.py)")
    ap.add_argument("--backend", choices=("threads", "processes", "redis", "all"), default="all")
    ap.add_argument("--class", type=int, dest="students", metavar="STUDENTS",
                    help="instead: STUDENTS clients each start a run at once on --slots slots (bench/class_line.py)")
    ap.add_argument("--slots", type=int, default=2, help="training slots of the --class server (default 2)")
    args = ap.parse_args()
    if args.students:
        from class_line import run_class
        sys.exit(0 if run_class(args.students, args.slots, args.deadline) else 1)
    if args.soak:
        from soak import soak
        backends = ("threads", "processes", "redis") if args.backend == "all" else (args.backend,)
        sys.exit(0 if all([soak(b, args.soak) for b in backends]) else 1)
    env = {"BPNET_WORKERS": os.environ.get("BPNET_WORKERS", "processes"), "OPENBLAS_NUM_THREADS": "1", "BPNET_MAX_JOBS": str(args.trainers),
           "BPNET_KEEP_FINISHED": "50"}
    server, url = start_server(free_port(), dev=False, env_extra=env)
    try:
        pid = web_pid(server)
        cpu0, rss0 = proc_stat(pid)
        t0 = time.monotonic()
        clients, http, finished, refused_again, busy = run_classroom(url, args.clients, args.trainers,
                                                                      args.deadline)
        wall = time.monotonic() - t0
        cpu1, rss1 = proc_stat(pid)
        lat = [x for c in clients for x in c.latencies]
        p50, p95 = percentiles(lat)
        h50, h95 = percentiles(http)
        print(f"{args.clients} clients, {args.trainers} training, {wall:.1f} s")
        print(f"event latency engine -> client: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({len(lat)} events)")
        print(f"HTTP GET /healthz during the run: p50 {h50:.1f} ms, p95 {h95:.1f} ms ({len(http)} requests)")
        print(f"events lost: {sum(c.lost for c in clients)}, out of order: {sum(c.out_of_order for c in clients)}; "
              f"clients that saw their job finish: {finished}/{args.clients}")
        print(f"web process CPU: {100 * (cpu1 - cpu0) / wall:.0f}% of one core; RSS {rss0:.0f} -> {rss1:.0f} MiB")
        print(f"limits: second job per client refused {refused_again}/{args.trainers}; "
              f"job beyond the global limit refused: {not busy.get('ok')} ({busy.get('message', '')[:60]})")
        rss = run_many_jobs(url, args.jobs, pid)
        print("web process RSS after N finished jobs: " + ", ".join(f"{n}: {m:.0f} MiB" for n, m in rss))
        if len(rss) >= 2:
            (n_a, m_a), (n_b, m_b) = rss[len(rss) // 2 - 1], rss[-1]
            print(f"growth per job from {n_a} to {n_b} jobs: {1024 * (m_b - m_a) / (n_b - n_a):.0f} KiB")
    finally:
        server.terminate()
        server.wait(20)
        problems = [line for line in server_log(server, 100000).splitlines() if line.strip()]
        print(f"server stderr: {len(problems)} lines (gunicorn start/stop and any warnings)" + "".join(f"\n  {p}" for p in problems[-10:]))


if __name__ == "__main__":
    main()
