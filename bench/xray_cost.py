"""What recording an X-ray (or a distributions sample) adds to one training step, steps alternating in one run.

For the MNIST MLP of bench/engine_overhead.py and for a small network drawn unit by unit: the median step
alone, with a full X-ray (hooks, copies, the summary or the units' pictures, its JSON) and with a 'dists'
sample; then what a watched running job pays: the X-ray's extra time, twice a second, as a share of a second.

    python bench/xray_cost.py [--steps 90]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bpnet.engine.events import clean  # noqa: E402
from bpnet.engine.trainer import Trainer  # noqa: E402
from bpnet.engine.xray import XRay, dists  # noqa: E402

CONFIGS = {
    "MNIST MLP 512-512": {"task": "mnist", "hidden": [512, 512], "n_samples": 25600, "epochs": 1, "batch_size": 128,
                          "eval_every": 100000, "seed": 0},
    "spheres 3-3-2-1 (drawn)": {"task": "classification", "dataset": "spheres", "hidden": [3, 3, 2],
                                "activation": "sigmoid", "n_samples": 2000, "epochs": 100, "seed": 0},
}


def measure(config, n):
    t = Trainer(config)
    x, steps = XRay(t), t.steps()
    times = ([], [], [])
    for k in range(n):
        mode = k % 3
        t0 = time.perf_counter()
        if mode:
            x.arm(full=mode == 1)
        record = next(steps)
        if mode == 1:
            x.finish(record)
            clean(x.json())  # as the page gets it
        elif mode == 2:
            shot = x.finish(record)
            dists(t, {j: o for j, o in enumerate(shot["outputs"]) if o is not None})
        times[mode].append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=90)
    args = ap.parse_args()
    for name, config in CONFIGS.items():
        plain, full, light = measure(config, args.steps)
        print(f"{name}: step {plain * 1e3:.2f} ms, with an X-ray {full * 1e3:.2f} ms ({full / plain:.2f}x), with a "
              f"dists sample {light * 1e3:.2f} ms ({light / plain:.2f}x); watched while running (2 X-rays/s): "
              f"{100 * 2 * max(0.0, full - plain):+.1f}% of each second", flush=True)


if __name__ == "__main__":
    main()
