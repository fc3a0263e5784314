"""A table of runs: each ended run of a job as one row (its settings, final and best metrics, duration and a
thinned copy of its curves), the settings in which rows differ from the first, groups of rows that differ only by
their seed (mean and spread), and the table as CSV. Plain data in, plain data out: the web stores the rows.
"""
import csv
import io
import math
import statistics

from .events import clean, decimate
from .user_data import public_config

__all__ = ["rows_of", "differing", "seed_groups", "to_csv", "METRICS", "CURVE_POINTS"]

CURVE_POINTS = 200  # points kept per curve (enough to overlay runs; the run's own CSV has every step)
METRICS = ("val_loss", "val_acc", "train_loss", "train_acc", "test_loss", "test_acc")
SKIP = ("pace",)  # settings that do not change what a run computes


def _finite(values):
    return [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def _curves(run):
    steps = run.get("steps") or {}
    n = len(steps.get("step") or [])
    keep = decimate(n, CURVE_POINTS) if n else []
    out = {c: [steps[c][i] for i in keep] for c in ("step", "loss", "val_loss", "val_acc") if c in steps}
    for e in run.get("evals") or []:  # MNIST: validation at its evaluations
        out.setdefault("eval_step", []).append(e["step"])
        out.setdefault("eval_loss", []).append(e.get("val_loss"))
        out.setdefault("eval_acc", []).append(e.get("val_acc"))
    return out


def _best(run, curves):
    best = {}
    losses = _finite(curves.get("eval_loss") or curves.get("val_loss") or [])
    accs = _finite(curves.get("eval_acc") or curves.get("val_acc") or [])
    if losses:
        best["val_loss"] = min(losses)
    if accs:
        best["val_acc"] = max(accs)
    return best


def rows_of(history, kind="train", started=None, finished=None):
    """One row per run of an ended job's full history (Job.history()): job_id, run, label, task, kind, state,
    settings (the run's config, one's own data by its summary), final (metrics), best (lowest validation loss,
    highest validation accuracy seen), seconds, started, finished, verdict (its kind) and curves."""
    rows = []
    for i, run in enumerate(history["runs"]):
        config = public_config(run["dataset"]["config"])
        curves = _curves(run)
        final = {k: v for k, v in (run.get("final") or {}).items() if k in METRICS}
        rows.append(clean({
            "job_id": history["job_id"], "run": i, "label": run.get("label") or "", "task": config["task"],
            "kind": kind, "state": "failed" if run.get("failure") else history["state"],
            "settings": {k: v for k, v in config.items() if k not in SKIP},
            "final": final, "best": _best(run, curves), "seconds": (run.get("final") or {}).get("seconds"),
            "steps": run.get("step"), "started": started, "finished": finished,
            "verdict": (run.get("verdict") or {}).get("kind"), "curves": curves}))
    return rows


def _same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-12))


def differing(rows, baseline=0):
    """Per row, {setting: value} of the settings that differ from the baseline row's (the first by default)."""
    if not rows:
        return []
    base = rows[baseline]["settings"]
    out = []
    for row in rows:
        s = row["settings"]
        out.append({k: s.get(k) for k in list(dict.fromkeys([*base, *s])) if not _same(s.get(k), base.get(k))})
    return out


def _key(row):
    settings = {k: v for k, v in row["settings"].items() if k != "seed"}
    return repr(sorted(settings.items()))


def seed_groups(rows):
    """Rows whose settings are equal but for the seed, with two seeds or more: [{"rows": [indices], "seeds",
    "mean": {metric}, "std": {metric} (sample standard deviation), "n"}] in the order of their first row."""
    groups = {}
    for i, row in enumerate(rows):
        groups.setdefault(_key(row), []).append(i)
    out = []
    for members in groups.values():
        seeds = sorted({rows[i]["settings"].get("seed") for i in members})
        if len(seeds) < 2:
            continue
        mean, std = {}, {}
        for m in METRICS:
            values = _finite([rows[i]["final"].get(m) for i in members])
            if len(values) >= 2:
                mean[m], std[m] = statistics.fmean(values), statistics.stdev(values)
        out.append({"rows": members, "seeds": seeds, "n": len(members), "mean": mean, "std": std})
    return out


def to_csv(rows):
    """The table as CSV: one line per run, the settings that differ from the first run, final and best metrics."""
    diffs = differing(rows)
    changed = list(dict.fromkeys(k for d in diffs for k in d))
    metrics = [m for m in METRICS if any(m in r["final"] for r in rows)]
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["job_id", "run", "label", "task", "state", "seconds", *changed, *metrics,
                *(f"best_{m}" for m in ("val_loss", "val_acc") if any(m in r["best"] for r in rows))])
    best = [m for m in ("val_loss", "val_acc") if any(m in r["best"] for r in rows)]
    for row, diff in zip(rows, diffs):
        value = lambda v: "" if v is None else ",".join(map(str, v)) if isinstance(v, list) else (  # noqa: E731
            v.get("name", "") if isinstance(v, dict) else v)
        w.writerow([row["job_id"], row["run"], row["label"], row["task"], row["state"],
                    "" if row["seconds"] is None else f"{row['seconds']:.3f}",
                    *(value(row["settings"].get(k)) for k in changed),
                    *(value(row["final"].get(m)) for m in metrics), *(value(row["best"].get(m)) for m in best)])
    return out.getvalue()

