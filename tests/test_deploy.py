"""The production server as the Docker image runs it, started here outside a container.

The command is the Dockerfile's CMD (gunicorn, one worker of 100 threads) with only the bind address changed to a
free local port; the environment is the Dockerfile's ENV (BPNET_WORKERS=processes, OPENBLAS_NUM_THREADS=1, ...);
its HEALTHCHECK command is run as written, with the port changed.
"""
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import alive, check_continuity, descendants, fast_config, free_port, long_config, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("finished", "stopped", "failed")


def dockerfile():
    """(ENV dict, CMD argv, HEALTHCHECK command) of the final stage of the Dockerfile."""
    text = (ROOT / "Dockerfile").read_text()
    lines = re.sub(r"\\\n", " ", text).splitlines()  # join continuation lines
    stage = lines[max(i for i, line in enumerate(lines) if line.upper().startswith("FROM ")):]
    env, cmd, health = {}, None, None
    for line in stage:
        word, _, rest = line.strip().partition(" ")
        word = word.upper()
        if word == "ENV":
            parts = shlex.split(rest)
            if len(parts) == 2 and "=" not in parts[0]:  # legacy form: ENV KEY value
                env[parts[0]] = parts[1]
            else:
                env.update(p.split("=", 1) for p in parts)
        elif word == "CMD":
            cmd = json.loads(rest)
        elif word == "HEALTHCHECK":
            health = re.split(r"\bCMD\b", rest, maxsplit=1)[1].strip()
    assert cmd and health, "the Dockerfile must have a CMD and a HEALTHCHECK ... CMD"
    return env, cmd, health


def local_command(cmd, port):
    """The CMD with its bind address replaced by 127.0.0.1:port (nothing else changes)."""
    argv = list(cmd)
    for i, arg in enumerate(argv):
        if arg in ("-b", "--bind"):
            argv[i + 1] = f"127.0.0.1:{port}"
        elif arg.startswith("--bind="):
            argv[i] = f"--bind=127.0.0.1:{port}"
    assert f"127.0.0.1:{port}" in " ".join(argv), f"no bind address to replace in {cmd}"
    return argv


@pytest.fixture
def production(processes, tmp_path):
    """The Dockerfile's server on a free port; yields (base URL, gunicorn master process, health command)."""
    pytest.importorskip("gunicorn", reason="the production server is gunicorn (requirements.txt)")
    env, cmd, health = dockerfile()
    assert env.get("BPNET_WORKERS") == "processes"  # what this test is about
    port = free_port()
    bindir = os.path.dirname(sys.executable)  # the virtualenv's gunicorn and python, as in the image
    environ = {**env, "PATH": bindir + os.pathsep + os.environ.get("PATH", ""), "BPNET_GRACE_SECONDS": "30",
               "HOME": str(tmp_path)}  # gunicorn's control socket goes to ~/.gunicorn: not the developer's
    master = processes.start(f"gunicorn-{port}", local_command(cmd, port), env=environ)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, master, timeout=60)
    seen = set()

    def tree():
        """The server's processes now (remembered: whatever is left is killed at teardown, orphans too)."""
        pids = [master.pid] + descendants(master.pid)
        seen.update(pids)
        return pids
    yield url, master, health.replace(":8000", f":{port}"), environ, tree
    for pid in seen | set(tree()):
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_dockerfile_command_serves_streams_and_shuts_down_within_seconds(production, live_client):
    url, master, health, environ, tree = production

    # the HEALTHCHECK passes, run as the image runs it (a shell command)
    check = subprocess.run(["/bin/sh", "-c", health], env=environ, cwd=ROOT, timeout=30, capture_output=True)
    assert check.returncode == 0, check.stderr.decode()

    # a job streams to its end through the worker process pool
    a = live_client(url)
    assert a.wait_for(lambda c: c.payloads("hello"), message="hello")[0]["max_running"] >= 1
    ack = a.call("start", {"config": fast_config(epochs=50)})
    assert ack["ok"], ack
    job_id = ack["job_id"]
    state = a.wait_state(job_id, *TERMINAL, timeout=60)
    assert state["state"] == "finished", state
    assert a.wait_event(job_id, "done")["steps"] == 200
    check_continuity(a.wait_for(lambda c: c.histories(job_id), message="the history")[0], a.events(job_id))
    csv = a.get(f"/jobs/{job_id}/history.csv")
    assert csv.status_code == 200 and len(csv.text.splitlines()) == 201

    # a long job is running in a pool process when the server is told to stop
    server = tree()
    assert len(server) >= 4, server  # master, its worker, the pool's processes and their queue manager
    b = live_client(url)
    ack = b.call("start", {"config": long_config()})
    assert ack["ok"], ack
    long_job = ack["job_id"]
    b.wait_steps(long_job, 10, timeout=30)
    master.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    master.wait(10)  # raises TimeoutExpired if the master outlives 10 s
    stragglers = [pid for pid in server if alive(pid)]
    while stragglers and time.monotonic() - sent < 10:
        time.sleep(0.05)
        stragglers = [pid for pid in server if alive(pid)]
    assert not stragglers, f"processes still alive 10 s after SIGTERM: {stragglers}"
    # the job was stopped (not cut off): its watcher was told why before the server went away
    states = b.events(long_job, "state")
    assert any(e["state"] == "stopped" and e["message"] == "stopped: the server was shut down" for e in states), states
    assert not any("new worker" in e["message"] for e in states), states


@contextlib.contextmanager
def dev_server_training(live_client):
    """`python app.py` with BPNET_WORKERS=processes, a long job training in its pool: yields (server process, the
    job's watching client, job id, the server's child processes: the pool's workers, its queue manager, the
    resource tracker). Whatever is left is killed afterwards."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "BPNET_WORKERS": "processes",
                                                            "BPNET_LOG_LEVEL": "WARNING"})
    children = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        a = live_client(url)
        ack = a.call("start", {"config": long_config()})
        assert ack["ok"], ack
        a.wait_steps(ack["job_id"], 10, timeout=30)
        children = descendants(proc.pid)
        assert len(children) >= 3, children
        yield proc, a, ack["job_id"], children
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def left_behind(children, within=10):
    """The children still alive `within` s from now (at once if none is)."""
    deadline = time.monotonic() + within
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [pid for pid in children if alive(pid)]


def test_dev_server_with_worker_processes_leaves_nothing_behind_on_sigterm(live_client):
    """`python app.py` with BPNET_WORKERS=processes: SIGTERM stops its job and ends the pool and queue manager."""
    with dev_server_training(live_client) as (proc, a, job_id, children):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not left_behind(children), "processes left behind"
        assert any(e["state"] == "stopped" for e in a.events(job_id, "state"))


def test_worker_processes_end_with_the_web_process_even_when_it_is_killed(live_client):
    """SIGKILL leaves the web process no clean-up (gunicorn's master does it to a worker past its graceful timeout):
    the pool's workers and its queue manager notice their parent is gone and end, the running job's with them."""
    with dev_server_training(live_client) as (proc, _, _, children):
        proc.kill()
        proc.wait(10)
        assert not left_behind(children), "processes left behind by a killed web process"


# --- Engine.IO requests that used to hang a thread for good ----------------------------------------------
def raw_http(url, request, timeout=10.0):
    """Send raw bytes to the server; a connected socket (the answer is read later with read_answer)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    sock.sendall(request)
    return sock


def read_answer(sock):
    """The status line of the server's answer ('' if the connection closed without one)."""
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    return data.split(b"\r\n", 1)[0].decode()


def polling_session(url):
    """A fresh Engine.IO long-polling session id (the handshake GET)."""
    import urllib.request

    with urllib.request.urlopen(url + "/socket.io/?EIO=4&transport=polling", timeout=10) as resp:
        return json.loads(resp.read().decode()[1:])["sid"]


def polling_post(sid, body=b"", length=None):
    return (f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: bpnet\r\n"
            f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body) if length is None else length}"
            "\r\n\r\n").encode() + body


def test_oversized_or_malformed_polling_posts_are_answered_at_once_and_never_exhaust_the_threads(production):
    """More such requests than the server has threads (gunicorn --threads 100), all at once: each is answered
    (413 for a Content-Length over the 200 KB limit, headers alone; 400 for an unknown packet type), and the
    server answers /healthz and pages afterwards. Before, each one held its thread for good."""
    url = production[0]
    sids = [polling_session(url) for _ in range(130)]
    requests = [polling_post(sid, length=300_000) for sid in sids[:110]]  # headers only: no body follows
    requests += [polling_post(sid, b"9") for sid in sids[110:120]]  # Engine.IO has no packet type 9
    requests += [polling_post(sid, b"4" + b"x" * 250_000) for sid in sids[120:]]  # a body over the limit
    sockets = [raw_http(url, r) for r in requests]
    answers = [read_answer(s) for s in sockets]
    assert answers[:110] == ["HTTP/1.1 413 Content Too Large"] * 110, set(answers[:110])
    assert answers[110:120] == ["HTTP/1.1 400 Bad Request"] * 10, set(answers[110:120])
    assert set(answers[120:]) == {"HTTP/1.1 413 Content Too Large"}, set(answers[120:])
    import urllib.request

    for path in ("/healthz", "/", "/mnist"):
        with urllib.request.urlopen(url + path, timeout=10) as resp:
            assert resp.status == 200


def test_a_websocket_message_over_the_limit_is_refused_with_its_reason_before_the_close(production):
    """Close code 1009 (message too big) comes back, so the page can say why (static/js/transport_errors.js);
    a message under the limit on another connection is answered as usual."""
    import websocket

    ws_url = production[0].replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    def until(ws, prefix):
        while not (message := ws.recv()).startswith(prefix):
            pass
        return message

    def connected():
        ws = websocket.create_connection(ws_url, timeout=10, skip_utf8_validation=True)
        until(ws, "0{")  # Engine.IO open
        ws.send("40")  # Socket.IO connect
        until(ws, "40{")
        return ws

    ok = connected()
    ok.send('421["ping",{}]')
    assert '"ok":true' in until(ok, "431")
    big = connected()
    big.send('42["ping",{"x":"' + "x" * 250_000 + '"}]')
    opcode, data = big.recv_data(control_frame=True)
    while opcode != websocket.ABNF.OPCODE_CLOSE:
        opcode, data = big.recv_data(control_frame=True)
    assert int.from_bytes(data[:2], "big") == 1009 and b"message too large" in data, data
    ok.close()


def test_the_nginx_example_refuses_bodies_before_the_server_would():
    from web.transport import MAX_MESSAGE_BYTES

    size = re.search(r"^\s*client_max_body_size\s+(\d+)([kKmM]?);", (ROOT / "deploy" / "nginx.conf").read_text(), re.M)
    assert size, "deploy/nginx.conf sets no client_max_body_size"
    limit = int(size.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2}[size.group(2).lower()]
    assert limit < MAX_MESSAGE_BYTES
