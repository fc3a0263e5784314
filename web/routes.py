"""HTTP: the pages, downloads, the schema, health, one's own data (POST /api/data), each browser's table of runs
(/runs, /api/runs), and the JavaScript libraries served from this app."""
import io
import secrets
import time
from pathlib import Path

import plotly
from flask import (Blueprint, abort, current_app, jsonify, render_template, request, send_file, send_from_directory,
                   session, url_for)

from bpnet.engine import lessons, run_table
from bpnet.engine.config import MAX_DATA_BYTES, ConfigError, schema
from bpnet.engine.job import JobError
from bpnet.engine.saved import MAX_MODEL_BYTES, ModelFileError, read as read_model
from bpnet.engine.torch_export import torch_script
from bpnet.engine.experiments import BASE_TASKS, COMPARISONS, comparison_defaults
from bpnet.engine.setups import lesson_setups, read_setup

from .jobs import ServiceError, page_of
from .sockets import XRAY_RATE

__all__ = ["pages"]

pages = Blueprint("pages", __name__)
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
VENDOR = Path(__file__).resolve().parents[1] / "static" / "vendor"
PAGES = {"function": "1-D function", "surface": "2-D surface", "classification": "Classify",
         "mnist": "MNIST", "compare": "Compare"}
# the step-by-step page's experiments and the small networks it starts with (a link's settings win): the
# vanishing-gradients lesson's sigmoid 3-3-2 net on the two spheres, a 1-D fit and a surface small enough to
# read every number, a batch of 8 samples
STEP_TASKS = {"classification": "Classify", "function": "1-D function", "surface": "2-D surface"}
STEP_SETUPS = {
    "classification": {"dataset": "spheres", "activation": "sigmoid", "hidden": "3,3,2", "optimizer": "sgd", "lr": "0.5",
                       "batch_size": "8", "epochs": "100"},
    "function": {"formula": "sin(3*x)", "activation": "tanh", "hidden": "4,3", "optimizer": "sgd", "lr": "0.1",
                 "batch_size": "8", "epochs": "200"},
    "surface": {"activation": "tanh", "hidden": "4,3", "optimizer": "sgd", "lr": "0.1", "batch_size": "8", "epochs": "200"},
}


def _manager():
    return current_app.extensions["bpnet_jobs"]


def _page(task, watch=None):
    # the browser's client id lives in the signed session cookie, set here by the page: every Socket.IO
    # connection of this browser (reconnects included) is then the same owner
    session.setdefault("client_id", secrets.token_urlsafe(16))
    comparisons = {k: {"title": v["title"], "shows": v["shows"], "labels": [label for label, _ in v["variants"]],
                       "defaults": {t: comparison_defaults(k, t) for t in BASE_TASKS},
                       "varies": sorted({name for _, changes in v["variants"] for name in changes})}
                   for k, v in COMPARISONS.items()}
    # a setup in the link (?formula=...&lr=...), read by the engine's schema; a watch page shows its run's own
    setup = None if watch else read_setup(task, request.args.items(multi=True))
    return render_template(f"{task}.html", page=task, pages=PAGES, schema=schema(), comparisons=comparisons,
                           watch=watch, setup=setup, max_model_bytes=MAX_MODEL_BYTES)


@pages.get("/")
def index():
    return render_template("index.html", page="index", pages=PAGES, lessons=lessons.LESSONS)


@pages.get("/<any(function, surface, classification, mnist, compare):task>")
def experiment(task):
    return _page(task)


@pages.get("/backprop")
def backprop():
    """Backprop step by step: one experiment (?task=), started paused, stepped one minibatch at a time."""
    session.setdefault("client_id", secrets.token_urlsafe(16))
    task = request.args.get("task", "classification")
    if task not in STEP_TASKS:
        abort(400, description=f"task must be one of {', '.join(STEP_TASKS)}; got {task[:40]!r}")
    given = [(k, v) for k, v in request.args.items(multi=True) if k != "task"]
    names = {k for k, _ in given}
    setup = read_setup(task, [(k, v) for k, v in STEP_SETUPS[task].items() if k not in names] + given)
    return render_template("backprop.html", page="backprop", task=task, step_tasks=STEP_TASKS, pages=PAGES,
                           schema=schema(), comparisons={}, watch=None, setup=setup, max_model_bytes=MAX_MODEL_BYTES)


@pages.get("/lessons")
def lesson_index():
    return render_template("lessons.html", page="lessons", pages=PAGES, lessons=lessons.LESSONS)


@pages.get("/lessons/<slug>")
def lesson(slug):
    found = lessons.get(slug)
    if found is None:
        abort(404, description=f"There is no lesson called {slug[:40]!r}: see the list of lessons.")
    i = lessons.LESSONS.index(found)
    return render_template("lesson.html", page="lessons", pages=PAGES, lesson=found, setups=lesson_setups(found),
                           number=i + 1, count=len(lessons.LESSONS),
                           previous=lessons.LESSONS[i - 1] if i else None,
                           next=lessons.LESSONS[i + 1] if i + 1 < len(lessons.LESSONS) else None)


@pages.get("/watch/<job_id>")
def watch(job_id):
    """A run, read-only and live, on its task's page; ?view=backprop on the step-by-step page (a class follows
    the teacher's steps there, the X-ray open)."""
    task, view = page_of(_entry(job_id).job), request.args.get("view", "")
    if view not in ("", "backprop"):
        abort(400, description=f"view must be 'backprop' (or left out for the run's own page); got {view[:40]!r}")
    if view == "backprop" and task in STEP_TASKS:
        session.setdefault("client_id", secrets.token_urlsafe(16))
        return render_template("backprop.html", page="backprop", task=task, step_tasks=STEP_TASKS, pages=PAGES,
                               schema=schema(), comparisons={}, watch=job_id, setup=None,
                               max_model_bytes=MAX_MODEL_BYTES)
    return _page(task, watch=job_id)


def _entry(job_id):
    try:
        return _manager().get(job_id)
    except ServiceError:
        abort(404, description="No such job: it may have finished long ago, or the link is wrong.")


def _run_index(entry):
    raw = request.args.get("run", "0")
    # "²".isdigit() too; and int() refuses more than 4300 digits
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) >= entry.job.run_count:
        abort(400, description=f"run must be a number from 0 to {entry.job.run_count - 1}")
    return int(raw)


@pages.get("/jobs/<job_id>/history.json")
def history_json(job_id):
    entry = _entry(job_id)
    resp = jsonify(entry.job.history())
    resp.headers["Content-Disposition"] = f"attachment; filename=bpnet-{job_id[:8]}-history.json"
    return resp


@pages.get("/jobs/<job_id>/history.csv")
def history_csv(job_id):
    entry = _entry(job_id)
    run = _run_index(entry)
    return send_file(io.BytesIO(entry.job.history_csv(run).encode()), mimetype="text/csv", as_attachment=True,
                     download_name=f"bpnet-{job_id[:8]}-run{run}-history.csv")


@pages.get("/jobs/<job_id>/model.npz")
def model_npz(job_id):
    entry = _entry(job_id)
    run = _run_index(entry)
    return send_file(io.BytesIO(entry.job.model_npz(run)), mimetype="application/octet-stream", as_attachment=True,
                     download_name=f"bpnet-{job_id[:8]}-run{run}-model.npz")


@pages.get("/jobs/<job_id>/xray.json")
def xray_json(job_id):
    """The X-ray of a run's latest recorded step (docs/xray.md); 409 with the reason when there is none yet."""
    entry = _entry(job_id)
    run = _run_index(entry)
    if not current_app.extensions["bpnet_xray_limit"].allow("job:" + job_id):  # the page asks over the socket
        return jsonify({"error": f"too many X-ray requests for this job: at most {XRAY_RATE} a second"}), 429
    try:
        return jsonify(entry.job.xray(run))
    except (JobError, ServiceError) as exc:
        return jsonify({"error": str(exc)}), 409


@pages.get("/jobs/<job_id>/model.py")
def model_py(job_id):
    """Export to PyTorch: a script building the same torch.nn.Sequential and loading the model .npz beside it."""
    entry = _entry(job_id)
    run = _run_index(entry)
    name = f"bpnet-{job_id[:8]}-run{run}-model"
    script = torch_script(read_model(entry.job.model_npz(run)), f"{name}.npz", f"{name}.py")
    return send_file(io.BytesIO(script.encode()), mimetype="text/x-python", as_attachment=True,
                     download_name=f"{name}.py")


@pages.post("/models")
def load_model():
    """Upload a model .npz (the request's body; ?name= its file name): a 'loaded' job of this session, to test
    and to train on. Answers {job_id, page, page_url} or a JSON error saying what is wrong with the file."""
    too_large = f"a model file may be at most {MAX_MODEL_BYTES // 2 ** 20} MB"
    length = request.content_length
    if length is not None and length > MAX_MODEL_BYTES:  # refused before reading the body
        abort(413, description=f"the file is {length / 2 ** 20:.1f} MB: {too_large}")
    data = request.stream.read(MAX_MODEL_BYTES + 1)  # (a body without a length: at most this much is read)
    if len(data) > MAX_MODEL_BYTES:
        abort(413, description=f"the file is over {MAX_MODEL_BYTES // 2 ** 20} MB: {too_large}")
    name = request.args.get("name", "model.npz")
    name = "".join(c for c in name if c.isprintable())[:80] or "model.npz"
    try:
        job = _manager().load_model(session["client_id"], data, name)
    except ModelFileError as exc:
        abort(400, description=f"{name}: {exc}")
    except ConfigError as exc:  # the budget: the model is larger than this server runs
        abort(400, description=f"{name}: " + "; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
    page = page_of(job)
    return jsonify({"job_id": job.id, "page": page, "page_url": url_for("pages.experiment", task=page, job=job.id)})

@pages.post("/api/data")
def upload_data():
    """One's own data for a run: the CSV's text as the body (?task=function|surface|classification, name=the
    file's name, val_fraction=the form's); answers its preview and the digest a Start names it by, or why not."""
    length = request.content_length
    if length is not None and length > MAX_DATA_BYTES:
        return jsonify({"error": "Content Too Large", "message": f"the file is {length:,} bytes; the limit is "
                        f"{MAX_DATA_BYTES:,}"}), 413
    body = request.stream.read(MAX_DATA_BYTES + 1)  # (a body without a length is read no further either)
    try:
        preview = _manager().uploads.add(request.args.get("task", ""), body, request.args.get("name"),
                                         request.args.get("val_fraction"))
    except ConfigError as exc:
        field = next(iter(exc.errors))
        return jsonify({"error": "Bad Request", "message": exc.errors[field], "errors": exc.errors}), 400
    return jsonify({"ok": True, "preview": preview})


@pages.get("/runs")
def runs_page():
    session.setdefault("client_id", secrets.token_urlsafe(16))
    return render_template("runs.html", page="runs", pages=PAGES, schema=schema())


def _runs():
    return current_app.extensions["bpnet_runs"]


def _table(rows):
    return jsonify({"rows": rows, "differing": run_table.differing(rows), "groups": run_table.seed_groups(rows)})


def _key_of(source):
    try:
        return _runs().check_key(source.get("key") if isinstance(source, dict) else None)
    except ValueError as exc:
        abort(400, description=str(exc))


@pages.get("/api/runs")
def runs_list():
    return _table(_runs().rows(_key_of(request.args)))


@pages.post("/api/runs")
def runs_add():
    """Add an ended job's runs to the table named by `key` (the job's own numbers, from its history)."""
    body = request.get_json(silent=True)
    key = _key_of(body)
    job_id = body.get("job_id")
    if not isinstance(job_id, str) or len(job_id) > 64:
        abort(400, description="job_id must be a job id string")
    entry = _entry(job_id)
    if not entry.job.done:
        abort(409, description="this run has not ended yet: it is added once it has")
    history = entry.job.history()
    rows = run_table.rows_of(history, entry.job.kind, started=entry.created, finished=time.time())
    return _table(_runs().add(key, rows))


@pages.post("/api/runs/clear")
def runs_clear():
    body = request.get_json(silent=True)
    key = _key_of(body)
    ids = body.get("job_ids")
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids) and len(ids) <= 1000):
        abort(400, description="job_ids must be a list of job ids")
    return _table(_runs().clear(key, ids))


@pages.get("/api/runs.csv")
def runs_csv():
    rows = _runs().rows(_key_of(request.args))
    return send_file(io.BytesIO(run_table.to_csv(rows).encode()), mimetype="text/csv", as_attachment=True,
                     download_name="bpnet-runs.csv")


@pages.get("/api/schema")
def api_schema():
    return jsonify({"tasks": schema(), "comparisons": {k: v["title"] for k, v in COMPARISONS.items()}})


@pages.get("/healthz")
def healthz():
    m = _manager()
    try:
        running = m.running_count()
    except ServiceError as exc:  # Redis mode with Redis down: say so (a load balancer takes this web away)
        return jsonify({"status": "unavailable", "message": str(exc)}), 503
    return jsonify({"status": "ok", "running_jobs": running, "max_running": m.max_running, "waiting": m.waiting_count()})


@pages.get("/vendor/plotly.min.js")
def plotly_js():
    return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=86400)


@pages.get("/vendor/<any('socket.io.min.js', 'socket.io.min.js.map'):name>")
def socketio_js(name):
    if not (VENDOR / name).exists():
        abort(404, description="the Socket.IO client is not installed: run python scripts/fetch_vendor.py")
    return send_from_directory(VENDOR, name, mimetype="text/javascript", max_age=86400)
