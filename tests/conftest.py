"""Fixtures for the suite: the app, its HTTP client and Socket.IO test clients, the live server and a headless
browser, subprocesses, a Redis server, RQ workers and web processes, clients of live servers. Helpers: support.py.

    def test_x(socket_client):
        a = socket_client()                    # a new browser session
        tab2 = socket_client(session=a)        # a second tab of the same session (same cookie)
        ack = a.call("start", {"config": fast_config()})
        a.wait_state(ack["job_id"], "finished")
"""
import time

import pytest

from support import (CHROMEDRIVER, CHROMIUM, CHROME_FLAGS, REDIS_WEB_ENV, TEST_SETTINGS, LiveClient, Processes,
                     RedisServer, SocketClient, free_port, serve_dashboard, wait_healthy, wait_until)
from web import create_app


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


@pytest.fixture(scope="session")
def live_server():
    """The dashboard as users run it (`python app.py --port P`) in a subprocess; yields its base URL."""
    with serve_dashboard("live_server") as url:
        yield url


@pytest.fixture(scope="module")
def live_server_processes():
    """The same with BPNET_WORKERS=processes (as in the Docker image): jobs begin after their first history."""
    with serve_dashboard("live_server_processes", BPNET_WORKERS="processes") as url:
        yield url


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
    driver.set_page_load_timeout(120)  # a page that never finishes loading fails its test (default: 300 s)
    yield driver
    driver.quit()


@pytest.fixture
def processes(tmp_path):
    """Factory of logged subprocesses, every one ended (with its descendants) at teardown."""
    procs = Processes(tmp_path)
    yield procs
    procs.stop_all()


@pytest.fixture
def redis_server(processes):
    """A real redis-server on a free port (skips if Debian's redis-server is not installed)."""
    import shutil

    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not __import__("os").path.exists(binary):
        pytest.skip("Redis tests need redis-server (Debian: apt-get install redis-server)")
    pytest.importorskip("rq", reason="Redis tests need rq (requirements.txt)")
    pytest.importorskip("socketio", reason="Redis tests need python-socketio")
    return RedisServer(processes, binary, free_port()).start()


@pytest.fixture
def redis_workers(processes, redis_server):
    """Factory: start(n, **env) starts n `python -m bpnet.worker` processes (extra environment variables in env)
    and waits until RQ lists them."""
    import sys

    from rq import Worker

    started = []

    def start(n=1, **env):
        procs = [processes.start(f"worker-{len(started) + i}", [sys.executable, "-m", "bpnet.worker", "--url",
                                 redis_server.url, "--name", f"w{len(started) + i}-{free_port()}"],
                                 env={**REDIS_WEB_ENV, **env}) for i in range(n)]
        started.extend(procs)
        names = set()

        def registered():
            for p in procs:
                if p.poll() is not None:
                    pytest.fail(f"worker exited with code {p.returncode}:\n{processes.log(p)[-2000:]}")
            names.update(w.name for w in Worker.all(connection=redis_server.client()))
            return len(names) >= len(started)
        wait_until(registered, timeout=30, interval=0.1, message=f"{n} RQ workers to register")
        return procs
    return start


@pytest.fixture
def redis_web(processes, redis_server):
    """Factory: start() runs `python app.py --port P` with BPNET_REDIS_URL (a web process) and returns its URL."""
    import sys

    def start(**env):
        port = free_port()
        proc = processes.start(f"web-{port}", [sys.executable, "app.py", "--port", str(port)],
                               env={**REDIS_WEB_ENV, "BPNET_REDIS_URL": redis_server.url, **env})
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        return url
    return start


@pytest.fixture
def live_client():
    """Factory: live_client(url) connects a new browser session to a running server; live_client(url,
    session=other) connects `other`'s session (same cookie) there. Disconnected at teardown."""
    made = []

    def make(url, session=None):
        client = LiveClient(url, session=session)
        made.append(client)
        return client
    yield make
    import threading

    for c in made:  # in the background: a websocket close handshake may take seconds (the servers go anyway)
        threading.Thread(target=c.disconnect, daemon=True).start()
