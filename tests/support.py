"""Test helpers shared by the suite: configs, waiting, a reading Socket.IO test client, subprocess and Redis
handling, a client of a live server. The fixtures built on them are in conftest.py.

Socket clients are read through a cursor over the test client's queue (never get_received(), which swaps the
queue and can lose a message appended by the relay thread at that moment).
"""
import contextlib
import time

import pytest

__all__ = ["TINY", "TINY_MNIST", "DIVERGING_MNIST", "TEST_SETTINGS", "TIMEOUT", "fast_config", "long_config", "wait_until",
           "SocketClient", "CHROMIUM", "CHROMEDRIVER", "CHROME_FLAGS", "check_continuity", "free_port",
           "descendants", "alive", "wait_healthy", "strict", "check_predict_refused_after_divergence", "Processes",
           "RedisServer", "REDIS_WEB_ENV", "LiveClient", "serve_dashboard", "STEP_FIT", "check_step_mode"]


# --- configs --------------------------------------------------------------------------------------
# a tiny 1-D fit: 40 points -> 32 training -> 4 steps per epoch, well under a millisecond a step
TINY = {"task": "function", "formula": "sin(x)", "n_samples": 40, "hidden": [4], "batch_size": 8, "epochs": 5}
# the tiny MNIST job of the issue: 1000 images, one epoch of 7 full batches of 128, evaluation every 5 steps
TINY_MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [16], "epochs": 1, "val_subset": 100, "eval_every": 5,
              "batch_size": 128}
# diverges at step 7 (leaky ReLU, SGD at a constant lr 10 on raw 0-255 pixels): its weights, and so its outputs, are NaN
DIVERGING_MNIST = dict(TINY_MNIST, activation="leaky_relu", optimizer="sgd", lr=10, lr_schedule="constant",
                       normalize_inputs=False)
RUNS_DIR = __import__("tempfile").mkdtemp(prefix="bpnet-test-runs-")  # the tables of runs the tests' servers keep
TEST_SETTINGS = {"MAX_RUNNING_JOBS": 2, "GRACE_SECONDS": 0.5, "KEEP_FINISHED_JOBS": 5, "FLUSH_INTERVAL": 0.1,
                 "SECRET_KEY": "bpnet-tests", "TESTING": True, "RUNS_DIR": RUNS_DIR}
TIMEOUT = 20.0  # generous: the suite must not flake on two busy cores; a passing wait returns at once


def fast_config(**overrides):
    """A tiny function-fit config (5 epochs of 4 steps), with overrides."""
    return {**TINY, **overrides}


def long_config(**overrides):
    """A tiny job that keeps running until it is stopped (tests stop it; teardown stops the rest): 200 000
    steps, tens of seconds on a fast machine, so no test can see it end by itself."""
    return fast_config(n_samples=400, epochs=5000, **overrides)


def wait_until(condition, timeout=TIMEOUT, interval=0.01, message="condition"):
    """Poll condition() until it returns something truthy (returned) or fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


# --- the Socket.IO client wrapper -------------------------------------------------------------------
class SocketClient:
    """A flask_socketio test client with helpers to call handlers and wait for what the server sent."""

    def __init__(self, app, http):
        self.app, self.http = app, http
        self.raw = app.extensions["socketio"].test_client(app, flask_test_client=http)
        self._cursor = 0

    # sending
    def call(self, event, *args):
        """Emit `event` with the given arguments (none: no payload at all) and return the ack."""
        return self.raw.emit(event, *args, callback=True)

    def disconnect(self):
        if self.raw.is_connected():
            self.raw.disconnect()

    @property
    def connected(self):
        return self.raw.is_connected()

    # reading (non-destructive; the queue is only ever appended to)
    def messages(self, name=None):
        """Every message received so far as (name, args) dicts, optionally only those called `name`."""
        return [m for m in list(self.raw.queue) if name is None or m["name"] == name]

    def new_messages(self, name=None):
        """Messages received since the previous call of new_messages."""
        queue = list(self.raw.queue)
        fresh, self._cursor = queue[self._cursor:], len(queue)
        return [m for m in fresh if name is None or m["name"] == name]

    def payloads(self, name):
        return [m["args"][0] for m in self.messages(name)]

    def batches(self, job_id=None):
        """The payload (a list of engine events) of every 'events' message, optionally of one job."""
        out = []
        for batch in self.payloads("events"):
            if job_id is not None:
                batch = [e for e in batch if e["job_id"] == job_id]
            if batch:
                out.append(batch)
        return out

    def events(self, job_id=None, type=None):
        """Engine events received in 'events' messages, in order (deduplicated by (job, seq))."""
        seen, out = set(), []
        for batch in self.batches(job_id):
            for e in batch:
                if (e["job_id"], e["seq"]) in seen or (type is not None and e["type"] != type):
                    continue
                seen.add((e["job_id"], e["seq"]))
                out.append(e)
        return out

    def histories(self, job_id=None):
        return [h for h in self.payloads("history") if job_id is None or h["job_id"] == job_id]

    def errors(self):
        return self.payloads("error")

    def steps(self, job_id=None):
        """Every step number received in 'steps' events."""
        return [s for e in self.events(job_id, "steps") for s in e["step"]]

    # waiting
    def wait_for(self, condition, timeout=TIMEOUT, message="condition"):
        return wait_until(lambda: condition(self), timeout=timeout, message=message)

    def wait_event(self, job_id, type, where=lambda e: True, timeout=TIMEOUT):
        """The first engine event of that job and type (matching `where`), waiting for it if need be."""
        def found():
            return next((e for e in self.events(job_id, type) if where(e)), None)
        return wait_until(found, timeout, message=f"a {type!r} event of job {job_id}")

    def wait_state(self, job_id, *states, timeout=TIMEOUT):
        """Wait for a 'state' event announcing one of `states`; returns it."""
        return self.wait_event(job_id, "state", lambda e: e["state"] in states, timeout)

    def wait_steps(self, job_id, n, timeout=TIMEOUT):
        """Wait until the client has received step n (or later)."""
        return wait_until(lambda: max(self.steps(job_id), default=0) >= n, timeout,
                          message=f"step {n} of job {job_id}")


# --- browser tests (tests/web/test_browser.py): Debian's Chromium and its driver ---------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run")


@contextlib.contextmanager
def serve_dashboard(name, **env):
    """`python app.py --port P` in a subprocess (extra BPNET_* settings in env), logged to .pytest_cache/<name>.log;
    yields its base URL once /healthz answers, and ends it afterwards."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    port = free_port()
    env = {**os.environ, "BPNET_GRACE_SECONDS": "5", "BPNET_MAX_JOBS": "2", "BPNET_LOG_LEVEL": "WARNING",
           "BPNET_RUNS_DIR": RUNS_DIR, **env}
    cache = root / ".pytest_cache"
    log = open(cache / f"{name}.log", "w") if cache.is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


# --- helpers and fixtures for worker processes, Redis and deployment (tests/web/test_processes.py,
# tests/web/test_redis.py, tests/test_deploy.py) ------------------------------------------------------
def check_continuity(history, events):
    """Events of one job, after dedupe by seq, continue its history exactly: seq history.seq+1, +2, ... with
    no gap, and run 0's steps continue the history's steps one by one."""
    later = sorted({e["seq"]: e for e in events if e["seq"] > history["seq"]}.values(), key=lambda e: e["seq"])
    seqs = [e["seq"] for e in later]
    assert seqs and seqs[0] == history["seq"] + 1, (history["seq"], seqs[:5])
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
    steps = [s for e in later if e["type"] == "steps" and e["run"] == 0 for s in e["step"]]
    reported = history["runs"][0]["steps"]["step"] if history["runs"] else []
    if steps:
        assert steps[0] == (reported[-1] + 1 if reported else 1), (reported[-1:], steps[:3])
        assert steps == list(range(int(steps[0]), int(steps[0]) + len(steps)))


def check_resume_and_set_lr(client, job_id, paused, step):
    """A job paused at `step` (state event `paused`) resumes and steps on; a new learning rate reaches its
    later steps; an invalid one is refused field by field by whoever trains it."""
    assert client.call("resume", {"job_id": job_id}) == {"ok": True, "state": "running"}
    client.wait_event(job_id, "state", lambda e: e["state"] == "running" and e["seq"] > paused["seq"])
    client.wait_steps(job_id, step + 5)

    assert client.call("set_lr", {"job_id": job_id, "lr": 0.003}) == {"ok": True, "lr": 0.003}
    lr_event = client.wait_event(job_id, "lr")
    assert lr_event["lr"] == pytest.approx(0.003)
    client.wait_event(job_id, "steps", lambda e: e["seq"] > lr_event["seq"])
    later = [e for e in client.events(job_id, "steps") if e["seq"] > lr_event["seq"]]
    assert later and all(e["lr"] == pytest.approx(0.003) for e in later)
    bad = client.call("set_lr", {"job_id": job_id, "lr": -1})
    assert bad["ok"] is False and "lr" in bad.get("errors", {}), bad


STEP_FIT = {"task": "function", "formula": "sin(2*x)", "n_samples": 60, "hidden": [6, 5], "batch_size": 12,
            "epochs": 5, "seed": 3}  # 4 steps per epoch


def _get_json(client, path):
    """(status, JSON) of a GET through a Flask test client's session or a LiveClient."""
    if hasattr(client, "base_url"):
        resp = client.get(path)
        return resp.status_code, resp.json()
    resp = client.http.get(path)
    return resp.status_code, resp.get_json()


def check_step_mode(client, watcher):
    """Step mode end to end through any backend: a paused start, exact steps, the X-ray over the socket and
    HTTP (the same JSON), 'epoch', hostile counts and non-owners refused, rewind reproducing the losses bit
    for bit (and with another lr). `watcher` is another session. Returns the last job's id (lr 0.1, paused at
    step 0) and the first job's losses of steps 1-3."""
    def paused_at(job_id, steps):
        return client.wait_event(job_id, "state", lambda e: e["state"] == "paused" and e.get("steps") == steps)

    ack = client.call("start", {"config": STEP_FIT, "paused": True})
    assert ack["ok"], ack
    job_id = ack["job_id"]
    paused_at(job_id, [0])
    no_step = client.call("xray", {"job_id": job_id})
    assert no_step["ok"] is False and "no step has run yet" in no_step["message"]
    assert _get_json(client, f"/jobs/{job_id}/xray.json")[0] == 409
    assert client.call("step", {"job_id": job_id, "steps": 3}) == {"ok": True, "state": "running", "until": [3]}
    paused_at(job_id, [3])
    client.wait_event(job_id, "xray_ready", lambda e: e["step"] == 3)
    shot = client.call("xray", {"job_id": job_id})
    assert shot["ok"] and shot["xray"]["step"] == 3 and len(shot["xray"]["layers"]) == 5
    assert _get_json(client, f"/jobs/{job_id}/xray.json") == (200, shot["xray"])
    assert client.steps(job_id) == [1, 2, 3]
    first_losses = [loss for e in client.events(job_id, "steps") for loss in e["loss"]]
    seen = watcher.call("watch", {"job_id": job_id})
    assert seen["ok"] and watcher.call("xray", {"job_id": job_id, "run": 0})["xray"] == shot["xray"]
    for control in ({"steps": 1}, {"lr": 0.1}):
        name = "step" if "steps" in control else "rewind"
        refused = watcher.call(name, {"job_id": job_id, **control})
        assert refused["ok"] is False and "belongs to another session" in refused["message"], refused
    for bad in (0, 1001, -3, 2.5, True, None, "ten", [], {}):
        refused = client.call("step", {"job_id": job_id, "steps": bad})
        assert refused["ok"] is False and "from 1 to 1000, or 'epoch'" in refused["message"], (bad, refused)
    for bad in (-1, 1, "0", True):
        refused = client.call("xray", {"job_id": job_id, "run": bad})
        assert refused["ok"] is False and "run must be" in refused["message"], (bad, refused)
    assert client.call("start", {"config": STEP_FIT, "paused": "yes"})["ok"] is False
    assert client.call("step", {"job_id": job_id, "steps": "epoch"})["until"] == [4]
    paused_at(job_id, [4])
    assert client.call("rewind", {"job_id": job_id, "lr": "fast"})["ok"] is False  # the job is kept
    again = client.call("rewind", {"job_id": job_id})
    assert again["ok"] and again["job_id"] != job_id, again
    client.wait_state(job_id, "stopped")
    paused_at(again["job_id"], [0])
    client.call("step", {"job_id": again["job_id"], "steps": 3})
    paused_at(again["job_id"], [3])
    assert [loss for e in client.events(again["job_id"], "steps") for loss in e["loss"]] == first_losses
    other_lr = client.call("rewind", {"job_id": again["job_id"], "lr": 0.1})
    assert other_lr["ok"] and other_lr["lr"] == 0.1, other_lr
    paused_at(other_lr["job_id"], [0])
    refused = client.call("step", {"job_id": again["job_id"], "steps": 1})
    assert refused["ok"] is False and "stopped" in refused["message"]
    return other_lr["job_id"], first_losses


def strict(value):
    """`value` (as a JSON decoder gave it) with no NaN or infinity: a NaN or Infinity token decodes to one."""
    import json

    json.dumps(value, allow_nan=False)  # raises ValueError if there is one
    return value


def check_predict_refused_after_divergence(client, start):
    """An MNIST job that diverges fails; predicting with its model is refused clearly, in strict JSON."""
    job_id = start(client, DIVERGING_MNIST)
    failed = client.wait_state(job_id, "failed", "finished", timeout=60)
    assert failed["state"] == "failed" and "diverged" in failed["message"], failed
    ack = strict(client.call("predict", {"job_id": job_id, "pixels": [0.5] * 784}))
    assert ack["ok"] is False and "diverged" in ack["message"], ack
    for m in client.messages():
        strict(m["args"])


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid):
    """Pids of every live descendant of process `pid` (from /proc; children that changed process group too)."""
    import os

    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def alive(pid):
    """Whether process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_healthy(url, proc=None, timeout=30.0):
    """Wait until GET url/healthz answers 200 (fails the test if `proc` exits first or time runs out)."""
    import urllib.request

    def up():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{url}: the server exited with code {proc.returncode} before answering")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False
    wait_until(up, timeout=timeout, interval=0.1, message=f"{url}/healthz to answer 200")


class Processes:
    """Subprocesses started by a test, logged to files, all ended at teardown (descendants too)."""

    ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]

    def __init__(self, log_dir):
        self.log_dir, self.procs = log_dir, []

    def start(self, name, argv, env=None, **kwargs):
        import os
        import subprocess

        log = open(self.log_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, cwd=self.ROOT, env={**os.environ, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, **kwargs)
        proc.name, proc.log_path = name, self.log_dir / f"{name}.log"
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, proc):
        return proc.log_path.read_text(errors="replace")

    def stop(self, proc, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` s; then kill whatever it left behind (e.g. an RQ work horse)."""
        import os
        import signal
        import subprocess

        left = descendants(proc.pid)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for pid in left + descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop_all(self):
        """Newest first, Redis servers last (the others shut down cleanly while it is there)."""
        for proc in sorted(reversed(self.procs), key=lambda p: p.name.startswith("redis")):
            self.stop(proc)


class RedisServer:
    """A throwaway redis-server (no persistence) on a free port; kill() and start() again on the same port."""

    def __init__(self, processes, binary, port):
        self.processes, self.binary, self.port = processes, binary, port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc = None

    def start(self):
        import redis

        self.proc = self.processes.start(f"redis-{self.port}", [self.binary, "--port", str(self.port), "--bind",
                                                                "127.0.0.1", "--save", "", "--appendonly", "no"])

        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"redis-server exited with code {self.proc.returncode}")
            try:
                return redis.Redis(port=self.port, socket_timeout=1).ping()
            except redis.RedisError:
                return False
        wait_until(ready, timeout=10, interval=0.05, message=f"redis-server on port {self.port}")
        return self

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=5, decode_responses=True)


REDIS_WEB_ENV = {"BPNET_SECRET_KEY": "bpnet-redis-tests", "BPNET_MAX_JOBS": "4", "BPNET_GRACE_SECONDS": "30",
                 "BPNET_LOG_LEVEL": "INFO", "OPENBLAS_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


class LiveClient(SocketClient):
    """A python-socketio client of a real server (a browser session: its own cookie, or `session`'s), with
    SocketClient's reading and waiting helpers. Messages are handled on threads by python-socketio, so their
    arrival order is not kept: events() of a job are sorted by seq."""

    class _Log:
        def __init__(self):
            self.queue = []

    def __init__(self, base_url, session=None):
        import requests
        import socketio

        self.base_url = base_url
        self.http = requests.Session()
        if session is not None:
            self.http.cookies.update(session.http.cookies)
        else:
            self.http.get(base_url + "/healthz", timeout=10)  # like loading a page: sets the session cookie
        self.raw = self._Log()
        self._cursor = 0
        self.sio = socketio.Client(reconnection=False, websocket_extra_options={"skip_utf8_validation": True})  # (pure-Python check: slow)
        self.sio.on("*", lambda event, *args: self.raw.queue.append({"name": event, "args": list(args)}))
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.sio.connect(base_url, transports=["websocket"], headers={"Cookie": cookie} if cookie else {},
                         wait_timeout=10)

    def call(self, event, data=None, timeout=TIMEOUT):
        return self.sio.call(event, data, timeout=timeout)

    def get(self, path, **kwargs):
        return self.http.get(self.base_url + path, timeout=kwargs.pop("timeout", TIMEOUT), **kwargs)

    def disconnect(self):
        try:
            if self.sio.connected:
                self.sio.disconnect()
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass

    @property
    def connected(self):
        return self.sio.connected

    def events(self, job_id=None, type=None):
        out = super().events(job_id, type)
        return sorted(out, key=lambda e: e["seq"]) if job_id is not None else out
