"""How long Stop takes on the largest jobs the default budget accepts, next to how long one of their steps takes.

Before, a stop waited for the step in progress to end (20 s for the largest); now it takes effect between two
layers of a step or an evaluation. For each config: a job trains in this process (one BLAS thread, as a worker
does); after a few steps, Stop is pressed at a random moment of a step; the time until the job has ended
('stopped', its last events sent) is measured. Prints the median step time and the median and worst stop time.

    python bench/stop_latency.py [--trials 5]
"""
import argparse
import os
import random
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bpnet.engine.job import Job  # noqa: E402

CONFIGS = {  # the largest of each kind under the default budget (4 GiB, 1 h): see bpnet/engine/budget.py
    "MNIST MLP 8x1024, batch 4096": {"task": "mnist", "hidden": [1024] * 8, "batch_size": 4096, "epochs": 1},
    "MNIST CNN 64-64-64 + 1024, batch 1024": {"task": "mnist", "model": "cnn", "conv_channels": [64, 64, 64],
                                              "hidden": [1024], "batch_size": 1024, "epochs": 1},
    "1-D fit 8x1024, batch 4096, 20 000 samples": {"task": "function", "n_samples": 20000, "hidden": [1024] * 8,
                                                  "batch_size": 4096, "epochs": 100},
}


def trial(config, rng):
    """(median seconds per step, seconds from stop() to the job's end)."""
    job = Job(config)
    trainer = job.trainers[0]
    job.start()
    t0 = time.monotonic()
    while trainer.step < 2:
        time.sleep(0.01)
    step_time = (time.monotonic() - t0) / max(trainer.step, 1)
    time.sleep(rng.uniform(0, step_time))  # somewhere inside a step
    sent = time.monotonic()
    job.stop()
    job.wait()
    return step_time, time.monotonic() - sent


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(0)
    print(f"{'config':45} {'step':>8} {'stop p50':>9} {'stop max':>9}")
    for name, config in CONFIGS.items():
        results = [trial(config, rng) for _ in range(args.trials)]
        steps, stops = [r[0] for r in results], [r[1] for r in results]
        print(f"{name:45} {statistics.median(steps):7.2f}s {statistics.median(stops):8.2f}s {max(stops):8.2f}s")


if __name__ == "__main__":
    main()
