"""Shared fixtures for the dashboard tests: the app, HTTP client, Socket.IO test clients and wait helpers.

    def test_x(socket_client):
        a = socket_client()                    # a new browser session
        tab2 = socket_client(session=a)        # a second tab of the same session (same cookie)
        ack = a.call("start", {"config": fast_config()})
        a.wait_state(ack["job_id"], "finished")

Socket clients are read through a cursor over the test client's queue (never get_received(), which swaps the
queue and can lose a message appended by the relay thread at that moment).
"""
import time

import pytest

from web import create_app

# --- configs --------------------------------------------------------------------------------------
# a tiny 1-D fit: 40 points -> 32 training -> 4 steps per epoch, well under a millisecond a step
TINY = {"task": "function", "formula": "sin(x)", "n_samples": 40, "hidden": [4], "batch_size": 8, "epochs": 5}
# the tiny MNIST job of the issue: 1000 images, one epoch of 8 steps, evaluation every 5 steps
TINY_MNIST = {"task": "mnist", "n_samples": 1000, "hidden": [16], "epochs": 1, "val_subset": 100, "eval_every": 5}
TEST_SETTINGS = {"MAX_RUNNING_JOBS": 2, "GRACE_SECONDS": 0.5, "KEEP_FINISHED_JOBS": 5, "FLUSH_INTERVAL": 0.1,
                 "SECRET_KEY": "bpnet-tests", "TESTING": True}
TIMEOUT = 20.0  # generous: the suite must not flake on two busy cores; a passing wait returns at once


def fast_config(**overrides):
    """A tiny function-fit config (5 epochs of 4 steps), with overrides; epochs=5000 makes a job that runs
    until stopped (20 000 steps, several seconds)."""
    return {**TINY, **overrides}


def long_config(**overrides):
    """A tiny job that keeps running until it is stopped (tests stop it; teardown stops the rest)."""
    return fast_config(epochs=5000, **overrides)


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


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def settings():
    """The app settings of this test; override in a module with a fixture of the same name."""
    return dict(TEST_SETTINGS)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    yield app
    app.extensions["bpnet_jobs"].stop_all(timeout=10)


@pytest.fixture
def manager(app):
    return app.extensions["bpnet_jobs"]


@pytest.fixture
def http(app):
    return app.test_client()


@pytest.fixture
def socket_client(app):
    """Factory: socket_client() connects a new browser session; socket_client(session=other) another tab of
    `other`'s session (a SocketClient or a Flask test client), sharing its cookie. Disconnected at teardown."""
    from flask_socketio.test_client import SocketIOTestClient

    made = []

    def make(session=None):
        if isinstance(session, SocketClient):
            session = session.http
        if session is None:
            session = app.test_client()
            session.get("/healthz")  # like a browser loading a page first: the session cookie is set
        client = SocketClient(app, session)
        made.append(client)
        return client

    yield make
    for c in made:
        try:
            c.disconnect()
        except Exception:  # noqa: BLE001 - teardown must reach every client
            pass
        SocketIOTestClient.clients.pop(c.raw.eio_sid, None)


# --- browser tests (tests/web/test_browser.py): the real server in a subprocess and a headless Chromium ---
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run")


@pytest.fixture(scope="session")
def live_server():
    """The dashboard as users run it (`python app.py --port P`) in a subprocess; yields its base URL."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BPNET_GRACE_SECONDS": "5", "BPNET_MAX_JOBS": "2", "BPNET_LOG_LEVEL": "WARNING"}
    log = open(root / ".pytest_cache" / "live_server.log", "w") if (root / ".pytest_cache").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the dashboard did not start on port {port} (exit code {proc.poll()})")
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if log is not subprocess.DEVNULL:
        log.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's chromium + chromedriver) with the browser console log kept; skips if absent."""
    import os

    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip(f"browser tests need {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="browser tests need selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument("--window-size=1440,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()
