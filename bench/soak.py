"""A soak: many jobs of mixed sizes through one backend of the production server, nothing lost, memory flat.

Starts the production command (gunicorn -w 1 --threads 100 app:app) with BPNET_WORKERS=threads, processes, or
BPNET_REDIS_URL (a redis-server and two `python -m bpnet.worker` processes of its own, on free ports); two
clients run `jobs` jobs between them, one after another each, cycling through small and large fits, surfaces,
classifiers, MNIST MLPs and CNNs, a comparison, and long jobs stopped once they train. Each client checks that
it saw every event of its job in order (seq without a gap after the history) and the job's end. Reports the web
process's RSS after the first round of jobs and after the last, and that of the processes that train (the
pool, or the RQ workers) for the other backends.

    python bench/load.py --soak 200 [--backend threads|processes|redis|all]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from web_latency import InOrderClient, ROOT, free_port, server_log, start_server  # noqa: E402

__all__ = ["soak", "MIX"]

LONG = {"task": "function", "n_samples": 200, "hidden": [32], "epochs": 5000}  # stopped once it trains
MIX = [  # (name, start payload, stop it once it trains)
    ("small fit", {"config": {"task": "function", "n_samples": 100, "hidden": [16], "epochs": 20}}, False),
    ("wide fit (3x1024)", {"config": {"task": "function", "n_samples": 200, "hidden": [1024] * 3, "epochs": 3}},
     False),
    ("surface", {"config": {"task": "surface", "n_samples": 400, "hidden": [32, 32], "epochs": 10}}, False),
    ("classifier", {"config": {"task": "classification", "n_samples": 400, "epochs": 20}}, False),
    ("MNIST MLP", {"config": {"task": "mnist", "n_samples": 2000, "hidden": [128], "epochs": 1, "eval_every": 10,
                              "val_subset": 200}}, False),
    ("MNIST CNN", {"config": {"task": "mnist", "model": "cnn", "conv_channels": [8, 16], "hidden": [32],
                              "n_samples": 1000, "epochs": 1, "eval_every": 5, "val_subset": 200}}, False),
    ("comparison", {"comparison": "activation", "config": {"task": "function", "n_samples": 200, "hidden": [16],
                                                           "epochs": 10}}, False),
    ("stopped", {"config": LONG}, True),
]
TERMINAL = ("finished", "stopped", "failed")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def tree_rss(pid):
    """RSS of a process and all its descendants (a worker and the work horse it forked), MiB."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += rss_mib(p)
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return total


class JobWatcher:
    """One client: starts jobs one after another and checks every event of each arrives, in order."""

    def __init__(self, url):
        self.sio = InOrderClient(reconnection=False)
        self.lock, self.ended, self.job = threading.Lock(), threading.Event(), None
        self.history_seq = self.last_seq = None
        self.lost = self.trained = 0
        self.sio.on("history", self._history)
        self.sio.on("events", self._events)
        self.sio.connect(url, transports=["websocket"], wait_timeout=30)

    def _history(self, h):
        with self.lock:
            if h["job_id"] == self.job and self.history_seq is None:
                self.history_seq = self.last_seq = h["seq"]
                if h["state"] in TERMINAL:
                    self.ended.set()

    def _events(self, batch):
        with self.lock:
            for e in batch:
                if e["job_id"] != self.job or self.history_seq is None or e["seq"] <= self.last_seq:
                    continue
                self.lost += e["seq"] - self.last_seq - 1
                self.last_seq = e["seq"]
                self.trained += e["type"] == "steps"
                if e["type"] == "state" and e["state"] in TERMINAL:
                    self.ended.set()

    def run(self, payload, stop, timeout=300):
        """Start one job and follow it to its end; returns the ack's error, or None."""
        with self.lock:
            self.job, self.history_seq, self.trained = None, None, 0
            self.ended.clear()
        ack = self.sio.call("start", payload, timeout=120)
        if not ack.get("ok"):
            return ack.get("message", "refused")
        with self.lock:
            self.job = ack["job_id"]
        self.sio.call("watch", {"job_id": ack["job_id"]}, timeout=60)  # its history, then its events
        if stop:
            deadline = time.monotonic() + 60
            while not self.trained and time.monotonic() < deadline:
                time.sleep(0.02)
            self.sio.call("stop", {"job_id": ack["job_id"]}, timeout=60)
        return None if self.ended.wait(timeout) else "its end never arrived"


def _redis(tmp):
    """A redis-server and two workers on free ports; returns (url, processes)."""
    binary = shutil.which("redis-server") or sys.exit("the Redis backend needs redis-server")
    port = free_port()
    redis = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    time.sleep(0.5)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "BPNET_LOG_LEVEL": "WARNING"}
    workers = [subprocess.Popen([sys.executable, "-m", "bpnet.worker", "--url", url], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"worker{i}.log"), "w"))
               for i in range(2)]
    return url, [redis] + workers


def soak(backend, jobs):
    """Run `jobs` jobs through the backend; print what happened; returns True if nothing was lost."""
    tmp = tempfile.mkdtemp(prefix="bpnet-soak-")
    extra, env = [], {"OPENBLAS_NUM_THREADS": "1", "BPNET_MAX_JOBS": "2", "BPNET_KEEP_FINISHED": "50",
                      "BPNET_GRACE_SECONDS": "30"}
    if backend == "redis":
        url, extra = _redis(tmp)
        env["BPNET_REDIS_URL"] = url
    else:
        env["BPNET_WORKERS"] = backend
    server, url = start_server(free_port(), dev=False, env_extra=env)
    problems, counts = [], {}
    try:
        children = open(f"/proc/{server.pid}/task/{server.pid}/children").read().split()
        web = int(children[0]) if children else server.pid
        clients = [JobWatcher(url) for _ in range(2)]
        # the training processes: the pool and its queue manager (processes), the RQ workers and their horses (redis)
        workers_rss = ((lambda: tree_rss(web) - rss_mib(web)) if backend == "processes" else
                       (lambda: sum(tree_rss(p.pid) for p in extra[1:])))
        rss = {}
        t0 = time.monotonic()

        done, quarters, lock = [0], [], threading.Lock()

        def drive(client, share, first):
            for k in range(share):
                name, payload, stop = MIX[(first + 2 * k) % len(MIX)]
                error = client.run(payload, stop)
                with lock:
                    counts[name] = counts.get(name, 0) + 1
                    done[0] += 1
                    if error:
                        problems.append(f"{name}: {error}")
                    if done[0] == len(MIX):
                        rss["start"] = (rss_mib(web), workers_rss())
                    if done[0] % max(1, jobs // 4) == 0:
                        quarters.append((done[0], rss_mib(web), workers_rss()))
        threads = [threading.Thread(target=drive, args=(c, jobs // 2 + (i < jobs % 2), i)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        time.sleep(1.0)  # the last relays hand their jobs to the archive
        rss["end"] = (rss_mib(web), workers_rss())
        lost = sum(c.lost for c in clients)
        for c in clients:
            c.sio.disconnect()
        print(f"{backend}: {jobs} jobs in {wall:.0f} s ({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})")
        print(f"  events lost or out of order: {lost}; jobs without their end or refused: {len(problems)}"
              + "".join(f"\n    {p}" for p in problems[:10]))
        workers = f"; training processes {rss['start'][1]:.0f} -> {rss['end'][1]:.0f} MiB" if backend != "threads" else ""
        print(f"  web process RSS after the first {len(MIX)} jobs {rss['start'][0]:.0f} MiB, after all "
              f"{rss['end'][0]:.0f} MiB{workers}")
        print("  along the way (jobs: web / training MiB): " + ", ".join(f"{n}: {w:.0f} / {t:.0f}" for n, w, t in quarters))
        return lost == 0 and not problems
    finally:
        server.terminate()
        server.wait(20)
        for p in reversed(extra):
            p.terminate()
            p.wait(10)
        noise = [line for line in server_log(server, 100000).splitlines() if "ERROR" in line or "Traceback" in line]
        if noise:
            print(f"  server errors: {len(noise)}" + "".join(f"\n    {line}" for line in noise[-5:]))
