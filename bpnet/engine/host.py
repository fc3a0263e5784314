"""Host a job where it trains (a worker process or another machine) and talk to it through messages.

The web side sends requests and receives messages; both are plain dicts (JSON-ready except the bytes of
an archive or a model), so any transport carries them: a multiprocessing queue, Redis lists.

Requests (receive):  {"op": one of OPS, "args": [...], "req": id, "sid": client, "job_id": id}
Messages (send):     {"kind": "host", "job_id", "pid", "hostname"}       where the job runs (crash detection)
                     {"kind": "event", "job_id", "event": {...}}          every engine event, in order
                     {"kind": "history", "job_id", "sid", "event": {...}} a watcher's catch-up, in order
                     {"kind": "reply", "job_id", "req", "ok", "result" | "error", "errors"?}
                     {"kind": "archive", "job_id", "data": bytes}         the ended job (see JobArchive)
"""
import os
import socket

from .archive import JobArchive
from .config import ConfigError
from .events import clean
from .experiments import compare_job
from .job import Job, JobError

__all__ = ["OPS", "build_job", "host_job", "answer"]

OPS = ("pause", "resume", "stop", "step", "xray", "set_lr", "set_pace", "predict_digit", "model_npz", "history", "history_csv", "send_history")


def build_job(job_id, spec):
    """The Job a spec describes: {"config": {...}, "initial"?: model .npz bytes to train on} or {"comparison":
    name, "config": {...} or None}, and "paused": true for a job that waits at step 0 (step mode). Its budget was
    checked where it was requested (web/jobs.prepare)."""
    paused = bool(spec.get("paused"))
    if spec.get("comparison"):
        return compare_job(spec["comparison"], spec.get("config"), job_id=job_id, budget=False, paused=paused)
    return Job(spec.get("config") or {}, job_id=job_id, budget=False, paused=paused, initial=spec.get("initial"))


def answer(job, request, send):
    """Carry out one request on a job (live or archived) and send the reply; never raises."""
    op, req = request.get("op"), request.get("req")
    reply = {"kind": "reply", "job_id": job.id, "req": req, "ok": True}
    try:
        if op not in OPS:
            raise ValueError(f"unknown request {op!r}")
        if op == "send_history":
            sid = request.get("sid")
            job.send_history(lambda h: send({"kind": "history", "job_id": job.id, "sid": sid, "event": h}))
            result = None
        else:
            result = getattr(job, op)(*request.get("args", ()))
            job.wait_delivered()  # its events (a 'paused' state) go out before the reply that says it is done
        reply["result"] = result if isinstance(result, bytes) else clean(result)  # JSON-ready: NaN as None
    except ConfigError as exc:
        reply.update(ok=False, error=str(exc), errors=exc.errors)
    except (JobError, ValueError, IndexError) as exc:
        reply.update(ok=False, error=str(exc))
    send(reply)


def host_job(job, send, receive, poll=0.05):
    """Start `job` here, forward its events, answer requests until it has ended, then send its archive."""
    job.subscribe(lambda ev: ev["type"] == "history" or send({"kind": "event", "job_id": job.id, "event": ev}))
    send({"kind": "host", "job_id": job.id, "pid": os.getpid(), "hostname": socket.gethostname()})
    job.start()
    while True:
        request = receive(poll)
        if request is not None:
            answer(job, request, send)
        elif job.done:
            break
    archive = JobArchive.from_job(job)
    send({"kind": "archive", "job_id": job.id, "data": archive.to_bytes()})
    return archive
