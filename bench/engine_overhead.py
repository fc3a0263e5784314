"""What the engine's events, snapshots, norms and history cost, against a bare training loop.

Both train the same MLP on MNIST for one epoch with the same end-of-epoch validation pass; the job also
reports steps (20/s), gradient norms, snapshots, distributions (every k steps) and keeps the history; the
x-rayed job also has a page asking for its X-ray every second (recorded at most twice a second, issue 13).
Runs alternate; the headline is the median over repeats of each repeat's ratio (its three runs side by side,
so a drift of the machine's speed cancels), the medians of each kind printed too. Target: both jobs within 5%
of the bare loop's throughput. On a machine whose speed drifts by +-10 % from one run to the next (a shared VM),
those ratios wander by a few percent; the bench also prints the engine's own time on the training thread
(the job's seconds less the time spent inside the trainer's steps, timed step by step), which does not.

    python bench/engine_overhead.py [--repeats 5] [--samples 25600]
"""
import argparse
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bpnet.engine.config import ConfigError, validate_config  # noqa: E402
from bpnet.engine.job import Job, JobError  # noqa: E402
from bpnet.engine.tasks import predict  # noqa: E402
from bpnet.engine.trainer import Trainer  # noqa: E402


def bare_loop(config):
    """The PyTorch-style loop by hand, plus one validation pass: seconds of training."""
    t = Trainer(config)
    model, opt, loss_fn, task = t.model, t.optimizer, t.task.criterion, t.task
    start = time.perf_counter()
    for xb, yb in t.loader:
        opt.zero_grad()
        loss_fn(model(xb), yb)
        model.backward(loss_fn.backward())
        opt.step()
    loss_fn(predict(model, task.x_val), task.y_val)
    return time.perf_counter() - start, t.step or len(t.loader)


def job_run(config, xray=False):
    """The same training as a Job with a subscriber (and with xray, someone asking for its X-ray every second):
    seconds of training as the engine measured them."""
    job = Job(config)
    events, inside = [], []
    job.subscribe(events.append)
    trainer = job.trainers[0]
    trainer.steps = _timed(trainer.steps, inside)
    job.start()
    if xray:
        threading.Thread(target=_look, args=(job,), daemon=True).start()
    job.wait()
    done = next(e for e in events if e["type"] == "done")
    counts = {k: sum(e["type"] == k for e in events) for k in ("steps", "norms", "snapshot", "dists", "xray_ready")}
    return done["seconds"], done["steps"], counts, done["seconds"] / sum(inside) - 1


def _timed(steps, inside):
    """The trainer's steps() generator, timing each step (inside[i]: seconds in the trainer's i-th step)."""
    def run():
        gen = steps()
        while True:
            start = time.perf_counter()
            try:
                record = next(gen)
            except StopIteration:
                return
            finally:
                inside.append(time.perf_counter() - start)
            yield record
    return run


def _look(job):
    while not job.done:
        try:
            job.xray()  # as the page does on each xray_ready; built as JSON each time
        except JobError:
            pass
        time.sleep(1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=25600, help="MNIST training images (1000 to 50000)")
    args = ap.parse_args()
    config = {"task": "mnist", "hidden": [512, 512], "n_samples": args.samples, "epochs": 1, "batch_size": 128,
              "eval_every": 100000, "seed": 0}
    try:
        config = validate_config(config)
    except ConfigError as exc:
        ap.error(str(exc))
    bare, engine, xrayed, shares, xshares = [], [], [], [], []
    bare_loop(config)  # warm-up: loads MNIST, fills caches
    kinds = {"bare": lambda: bare_loop(config), "job": lambda: job_run(config),
             "x-rayed": lambda: job_run(config, xray=True)}
    order = list(kinds)
    for r in range(args.repeats):
        got = {k: kinds[k]() for k in order[r % 3:] + order[:r % 3]}  # each kind first in turn: no order effect
        (b, steps), (j, _, counts, share), (x, _, xcounts, xshare) = got["bare"], got["job"], got["x-rayed"]
        shares.append(share)
        xshares.append(xshare)
        bare.append(b)
        engine.append(j)
        xrayed.append(x)
        print(f"bare {b:.2f} s   job {j:.2f} s   x-rayed job {x:.2f} s   ({steps} steps; job events: {counts}; "
              f"x-rayed: {xcounts})", flush=True)
    b, j, x = statistics.median(bare), statistics.median(engine), statistics.median(xrayed)
    paired_j = statistics.median(jj / bb for jj, bb in zip(engine, bare))  # each repeat's runs are side by side:
    paired_x = statistics.median(xx / bb for xx, bb in zip(xrayed, bare))  # their ratio cancels the machine's drift
    print(f"median: bare loop {steps * 128 / b:.0f} samples/s, job {steps * 128 / j:.0f} samples/s, x-rayed job "
          f"{steps * 128 / x:.0f} samples/s (overheads of the medians {100 * (j / b - 1):+.1f}%, "
          f"{100 * (x / b - 1):+.1f}%)")
    print(f"median of each repeat's ratio: engine overhead {100 * (paired_j - 1):+.1f}%, with the X-ray watched "
          f"{100 * (paired_x - 1):+.1f}% (target <= 5%)")
    print(f"the engine's own time on the training thread (outside the trainer's steps), median: job "
          f"{100 * statistics.median(shares):+.1f}%, x-rayed job {100 * statistics.median(xshares):+.1f}% "
          "of its steps' time")


if __name__ == "__main__":
    main()
