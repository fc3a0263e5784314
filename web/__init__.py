"""The bpnet dashboard: Flask + Flask-SocketIO on top of bpnet.engine (create_app is the factory)."""
import logging
import os
import secrets
import threading

from flask import Flask, jsonify, render_template, request, session
from flask_socketio import SocketIO
from werkzeug.exceptions import HTTPException

from bpnet import optim
from bpnet.engine import budget
from bpnet.engine.job import JobError

from .backends import LocalBackend, ServiceError
from .process_backend import ProcessBackend
from .jobs import JobManager
from .payloads import JSONProvider, Packet
from .routes import PAGES, pages
from .run_store import RunStore
from .sockets import XRAY_RATE, RateLimit, register
from .transport import MAX_MESSAGE_BYTES, guard

__all__ = ["create_app", "settings_from_env"]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _int_env(name, default):
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().isdigit() or int(raw) < 1:
        raise SystemExit(f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


def settings_from_env():
    """Server settings from BPNET_* environment variables, with defaults (documented in README)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        limits = budget.limits_from_env()
    except ValueError as exc:
        raise SystemExit(str(exc))
    return {
        "MAX_JOB_MEMORY": limits.memory,
        "MAX_JOB_SECONDS": limits.seconds,
        "MAX_RUNNING_JOBS": _int_env("BPNET_MAX_JOBS", cores),
        "GRACE_SECONDS": _int_env("BPNET_GRACE_SECONDS", 30),
        "KEEP_FINISHED_JOBS": _int_env("BPNET_KEEP_FINISHED", 50),
        "RUNS_DIR": os.environ.get("BPNET_RUNS_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "bpnet", "runs"),
        "KEEP_RUNS": _int_env("BPNET_KEEP_RUNS", 200),
        "SECRET_KEY": os.environ.get("BPNET_SECRET_KEY") or secrets.token_hex(32),
        "LOG_LEVEL": os.environ.get("BPNET_LOG_LEVEL", "INFO").upper(),
        "FLUSH_INTERVAL": 0.1,
        "WORKERS": os.environ.get("BPNET_WORKERS", "threads"),
        "REDIS_URL": os.environ.get("BPNET_REDIS_URL", ""),
    }


def _backend(app, socketio, queue):
    """The configured place where jobs train: threads here, worker processes, or Redis-queued workers."""
    emit = lambda event, data, to: socketio.emit(event, data, to=to)  # noqa: E731
    spawn, flush, mode = socketio.start_background_task, app.config["FLUSH_INTERVAL"], app.config["WORKERS"]
    if app.config["REDIS_URL"]:
        from .redis_backend import RedisBackend
        backend = RedisBackend(app.config["REDIS_URL"], emit, spawn, flush)
        queue.on_events = backend.log_events
        return backend
    if mode == "processes":
        return ProcessBackend(emit, spawn, app.config["MAX_RUNNING_JOBS"], flush)
    if mode != "threads":
        raise SystemExit(f"BPNET_WORKERS must be 'threads' or 'processes', got {mode!r}")
    # jobs train in this process: compile the fused Adam update now rather than in the first job's first step
    threading.Thread(target=optim.warm_up, name="bpnet-warm-up", daemon=True).start()
    return LocalBackend(emit, spawn, flush)


# Plotly adds <style> elements and style attributes; the page's data travels as a JSON <script> (not run)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def create_app(config=None):
    """A new dashboard app; `config` overrides the environment's settings (tests use this)."""
    app = Flask(__name__, root_path=ROOT, template_folder="templates", static_folder="static")
    app.config.update(settings_from_env())
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.config.update(config or {})
    app.json = JSONProvider(app)  # every JSON body through bpnet.engine.events.clean (NaN as null)
    logging.basicConfig(level=app.config["LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    queue = None
    if app.config["REDIS_URL"]:  # events from the workers, and between web processes, through Redis
        from .redis_queue import WebRedisManager
        queue = WebRedisManager(app.config["REDIS_URL"])
    socketio = SocketIO(app, async_mode="threading", logger=False, engineio_logger=False, serializer=Packet,
                        max_http_buffer_size=MAX_MESSAGE_BYTES, client_manager=queue)
    guard(app, socketio)
    manager = JobManager(_backend(app, socketio, queue), max_running=app.config["MAX_RUNNING_JOBS"],
                         grace_seconds=app.config["GRACE_SECONDS"], keep_finished=app.config["KEEP_FINISHED_JOBS"],
                         limits=budget.Limits(app.config["MAX_JOB_MEMORY"], app.config["MAX_JOB_SECONDS"]))
    app.extensions["bpnet_jobs"] = manager
    app.extensions["bpnet_runs"] = RunStore(app.config["RUNS_DIR"], app.config["KEEP_RUNS"])
    app.register_blueprint(pages)
    app.extensions["bpnet_xray_limit"] = xrays = RateLimit(XRAY_RATE, XRAY_RATE)  # a big X-ray takes a while
    app.extensions["bpnet_predict_limit"] = register(socketio, manager, xrays)

    @app.before_request
    def session_id():
        # the browser session's id lives in the signed cookie set by any page, so every tab of the browser and
        # every reconnection is the same client (Socket.IO handlers can read the session but not set cookies)
        if "client_id" not in session:
            session["client_id"] = secrets.token_urlsafe(16)

    @app.after_request
    def security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if resp.mimetype == "text/html":  # pages: only this origin's scripts; never inside another site's frame
            resp.headers.setdefault("Content-Security-Policy", CSP)
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if request.path.startswith(("/api/", "/jobs/", "/healthz", "/models")):
            return jsonify({"error": exc.name, "message": exc.description}), exc.code
        return render_template("error.html", page="error", pages=PAGES, error=exc), exc.code

    @app.errorhandler(ServiceError)
    @app.errorhandler(JobError)
    def refused(exc):
        return jsonify({"error": "Conflict", "message": str(exc)}), 409

    @app.errorhandler(Exception)
    def server_error(exc):
        app.logger.exception("unhandled error on %s", request.path)
        return jsonify({"error": "Internal Server Error", "message": "something went wrong on the server"}), 500

    return app
