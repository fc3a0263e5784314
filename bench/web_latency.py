"""Is the dashboard responsive while it trains? p50/p95 of an HTTP request and of a socket ping, two jobs running.

Starts the real server (the production command by default: gunicorn -w 1 --threads 100 app:app; --dev for
`python app.py`) on a free local port, starts two MNIST MLP jobs from two socket clients, and while they train
measures GET /healthz and a Socket.IO ping round trip from a third client. Target: p95 under 50 ms.

    python bench/web_latency.py [--samples 200] [--dev]
"""
import argparse
import os
import socket
import statistics
import subprocess
import tempfile
import sys
import time
import urllib.request

import engineio
import socketio

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB = {"task": "mnist", "hidden": [512, 512], "epochs": 3, "eval_every": 50}
# websocket-client checks that each text frame is valid UTF-8 in pure Python, byte by byte, unless told not to:
# with dozens of clients in one process that check, not the server, would set the pace (browsers do it natively)
FAST_WS = {"skip_utf8_validation": True}


class _InOrderEngineIO(engineio.Client):
    """Handles each message on the reading thread, in arrival order (the stock client starts a thread per
    message, so two messages can be handled in either order and a measured 'gap' might be the client's)."""

    def _trigger_event(self, event, *args, **kwargs):
        kwargs.pop("run_async", None)
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    """A Socket.IO client that sees the server's messages in the order the server sent them, like a browser."""

    def __init__(self, **kwargs):
        super().__init__(websocket_extra_options=FAST_WS, **kwargs)

    def _engineio_client_class(self):
        return _InOrderEngineIO


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port, dev, env_extra=None):
    env = {**os.environ, "BPNET_PORT": str(port), "BPNET_LOG_LEVEL": "WARNING", **(env_extra or {})}
    if dev:
        cmd = [sys.executable, "app.py", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "100", "-b", f"127.0.0.1:{port}", "app:app"]
    log = tempfile.TemporaryFile()  # (not a pipe: a server that logs more than a pipe holds would hang on it)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                sys.exit("server failed to start:\n" + server_log(proc))
            time.sleep(0.1)
    proc.kill()
    sys.exit("server did not answer /healthz within 30 s")


def server_log(proc, limit=4000):
    """The end of what the server wrote to stderr."""
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")[-limit:]


def percentiles(samples):
    ms = sorted(1000 * s for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--dev", action="store_true", help="measure `python app.py` instead of gunicorn")
    args = ap.parse_args()
    proc, url = start_server(free_port(), args.dev)
    trainers = []
    try:
        for _ in range(2):
            c = InOrderClient()
            c.connect(url, transports=["websocket"])
            ack = c.call("start", {"config": JOB}, timeout=60)
            if not ack.get("ok"):
                sys.exit(f"could not start a job: {ack}")
            trainers.append(c)
        probe = InOrderClient()
        probe.connect(url, transports=["websocket"])
        time.sleep(2.0)  # let both jobs get going
        http, ping = [], []
        for _ in range(args.samples):
            t = time.perf_counter()
            urllib.request.urlopen(url + "/healthz", timeout=5).read()
            http.append(time.perf_counter() - t)
            t = time.perf_counter()
            probe.call("ping", {}, timeout=5)
            ping.append(time.perf_counter() - t)
            time.sleep(0.02)
        health = urllib.request.urlopen(url + "/healthz", timeout=5).read().decode()
        for name, xs in (("HTTP GET /healthz", http), ("socket ping", ping)):
            p50, p95 = percentiles(xs)
            print(f"{name:18s} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   ({len(xs)} samples, target p95 < 50 ms)")
        print(f"while training: {health}")
    finally:
        for c in trainers:
            c.disconnect()
        proc.terminate()
        proc.wait(15)


if __name__ == "__main__":
    main()
