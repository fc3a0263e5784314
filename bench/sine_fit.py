"""How fast the engine fits sin(x) on [-pi, pi]: wall time until the validation MSE first falls below 1e-4.

Runs the default 1-D function config (tanh MLP 32-32, Adam) several times with different seeds and prints
the median time and steps to the target. Target: under 5 s.

    python bench/sine_fit.py [--repeats 5] [--target 1e-4]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bpnet.engine.config import defaults  # noqa: E402
from bpnet.engine.trainer import Trainer  # noqa: E402


def time_to_target(config, target):
    start = time.perf_counter()
    trainer = Trainer(config)  # building the data set and the model counts too
    for rec in trainer.steps():
        if rec["val_loss"] < target:
            return time.perf_counter() - start, rec["step"]
    return None, trainer.step


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--target", type=float, default=1e-4)
    args = ap.parse_args()
    base = dict(defaults("function"), formula="sin(x)")
    print(f"config: {base}")
    times, steps = [], []
    for seed in range(args.repeats):
        t, n = time_to_target(dict(base, seed=seed), args.target)
        print(f"seed {seed}: " + (f"validation MSE < {args.target:g} after {n} steps, {t:.2f} s" if t is not None
                                  else f"target not reached in {n} steps"))
        if t is not None:
            times.append(t)
            steps.append(n)
    if times:
        print(f"median: {statistics.median(times):.2f} s, {statistics.median(steps):.0f} steps "
              f"({len(times)}/{args.repeats} runs reached the target; target: under 5 s)")


if __name__ == "__main__":
    main()
