"""The command line's output files: checked before training starts, written whole or not at all.

A finished run must never be lost to a typo in a path, so every output path is checked (and a probe file created
beside it) before any training. Each file is written to a temporary file in the same directory, then renamed over
the target: an interrupt (Ctrl-C) or a full disk leaves the old file, or none, never half of one.
"""
import csv
import io
import json
import os
import re
from pathlib import Path

__all__ = ["output_problems", "model_paths", "history_text", "write_atomically", "HISTORY_SUFFIXES"]

HISTORY_SUFFIXES = (".json", ".csv")


def _temporary(path):
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def write_atomically(path, data):
    """Write bytes to path through a temporary file renamed over it; on any error or interrupt, remove the
    temporary file and re-raise (path keeps what it held before)."""
    path, tmp = Path(path), _temporary(Path(path))
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _unwritable(path):
    """Why path cannot be written (None if it can): probed by creating the temporary file it would use."""
    if path.is_dir():
        return f"{path} is a directory"
    parent = path.parent
    if not parent.exists():
        return f"directory {parent} does not exist"
    if not parent.is_dir():
        return f"{parent} is not a directory"
    tmp = _temporary(path)
    try:
        tmp.open("xb").close()
    except OSError as exc:
        return f"cannot write in {parent}: {exc.strerror}"
    tmp.unlink()
    return None


def _slug(label):
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "run"


def model_paths(path, labels):
    """Where the models go: path for one run; for several, one file per run, named after its label."""
    if path is None or len(labels) == 1:
        return [path]
    return [path.with_name(f"{path.stem}-{_slug(label)}{path.suffix}") for label in labels]


def output_problems(save_model, save_history, labels):
    """{flag: message} for every output path that cannot be written (checked before training)."""
    problems = {}
    for path in model_paths(save_model, labels) if save_model else []:
        if (problem := _unwritable(path)) is not None:
            problems["--save-model"] = problem
            break
    if save_history is not None:
        if (problem := _unwritable(save_history)) is not None:
            problems["--save-history"] = problem
        elif save_history.suffix not in HISTORY_SUFFIXES:
            problems["--save-history"] = f"{save_history.name} must end in .json or .csv"
        elif save_model is not None and save_history.resolve() in map(Path.resolve, model_paths(save_model, labels)):
            problems["--save-history"] = "is the same file as --save-model"
    return problems


def history_text(job, path):
    """The job's history for path: JSON with every run, or CSV (one row per step; with several runs, a first
    column `run` holds each row's label)."""
    if path.suffix != ".csv":
        return json.dumps(job.history())
    if job.run_count == 1:
        return job.history_csv(0)
    out = io.StringIO()
    writer = csv.writer(out)  # (the lines end as the per-run CSVs do)
    for i, recorder in enumerate(job.recorders):
        header, *rows = csv.reader(io.StringIO(job.history_csv(i)))
        if i == 0:
            writer.writerow(["run", *header])
        writer.writerows([recorder.label, *row] for row in rows)
    return out.getvalue()
