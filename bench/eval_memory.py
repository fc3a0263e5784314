"""Memory an evaluation leaves held: the default MNIST CNN over the 10,000 validation images, in batches of
1000, the engine's way (bpnet.engine.tasks.predict, under bpnet.no_grad()) and in eval mode alone (every
layer keeps its backward caches of the last batch, as before no_grad existed), side by side.

    python bench/eval_memory.py [--images 10000]
"""
import argparse
import os
import sys
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bpnet.engine.config import validate_config  # noqa: E402
from bpnet.engine.models import build_model  # noqa: E402
from bpnet.engine.tasks import EVAL_BATCH, predict  # noqa: E402


def eval_mode_alone(model, x):
    model.eval()
    out = np.concatenate([model(x[i:i + EVAL_BATCH]) for i in range(0, len(x), EVAL_BATCH)])
    model.train()
    return out


def held_after(fn, model, x):
    """(MiB still allocated after fn returned, not counting its output; peak MiB during it)."""
    tracemalloc.start()
    out = fn(model, x)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return (current - out.nbytes) / 2**20, peak / 2**20


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=10000)
    args = ap.parse_args()
    config = validate_config({"task": "mnist", "model": "cnn"})
    x = np.random.default_rng(0).standard_normal((args.images, 1, 28, 28)).astype(np.float32)
    print(f"MNIST CNN, the config's defaults (conv channels {config['conv_channels']}, hidden {config['hidden']}), "
          f"{args.images} images in batches of {EVAL_BATCH}, float32")
    for name, fn in (("predict (no_grad)", predict), ("eval mode alone", eval_mode_alone)):
        model = build_model(config, (1, 28, 28), 10, np.random.default_rng(0))
        held, peak = held_after(fn, model, x)
        print(f"{name:18s}: {held:7.1f} MiB held afterwards, peak {peak:7.1f} MiB during")


if __name__ == "__main__":
    main()
