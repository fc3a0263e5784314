"""Training throughput of the MNIST CNN: Conv3x3(1->32, pad 1)-ReLU-MaxPool2 -> Conv3x3(32->64, pad 1)-ReLU-
MaxPool2 -> Flatten -> Linear(3136->10), softmax cross-entropy, Adam, batch 128, float32.

Prints bpnet's and PyTorch's samples/s on the CPU with the same thread count, measured interleaved block by block
in this process (so both see the same machine load), and their ratio; the time the step's matrix products alone
take (the same GEMMs on arrays of the same shapes, interleaved too) and the step's ratio to it; and bpnet's
forward and backward time per layer (medians, measured apart from the timed runs). BPNET_NUMBA=0 times the numpy
reference path; OPENBLAS_NUM_THREADS=1 times both on one thread.

    python bench/cnn_throughput.py [--blocks 15] [--steps 10] [--no-torch] [--no-layers]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bpnet  # noqa: E402
from bpnet import nn, optim  # noqa: E402
from bpnet.nn import kernels  # noqa: E402
from torch_side import load_torch  # noqa: E402  (bench/, the script's directory)

BATCH = 128


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def bpnet_model():
    bpnet.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 10))
    model[0].needs_input_grad = False  # like torch: the data needs no gradient
    return model


class BpnetRunner:
    name = "bpnet"

    def __init__(self):
        self.model = bpnet_model()
        self.loss = nn.CrossEntropyLoss()
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)

    def steps(self, x, y, batches):
        for i in batches:
            self.opt.zero_grad()
            self.loss(self.model(x[i:i + BATCH]), y[i:i + BATCH])
            self.model.backward(self.loss.backward())
            self.opt.step()


class TorchRunner:
    name = "torch"

    def __init__(self, torch):
        torch.manual_seed(0)
        tnn = torch.nn
        self.model = tnn.Sequential(tnn.Conv2d(1, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                    tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                                    tnn.Flatten(), tnn.Linear(3136, 10))
        self.loss = tnn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

    def steps(self, x, y, batches):
        for i in batches:
            self.opt.zero_grad()
            self.loss(self.model(x[i:i + BATCH]), y[i:i + BATCH]).backward()
            self.opt.step()


class GemmRunner:
    """Exactly the matrix products of each training step, on arrays of the same shapes: per convolution the
    forward W (C_out, C_in*9) @ cols (C_in*9, N*H*W), the weight gradient dy @ cols^T and (but the first) the
    column gradient W^T @ dy; the Linear's three products. The floor a step is held against."""

    name = "GEMMs"

    def __init__(self):
        rng = np.random.default_rng(1)
        f = np.float32
        self.convs = [(rng.random((32, 9), f), rng.random((9, BATCH * 784), f), rng.random((32, BATCH * 784), f)),
                      (rng.random((64, 288), f), rng.random((288, BATCH * 196), f),
                       rng.random((64, BATCH * 196), f))]
        self.linear = (rng.random((BATCH, 3136), f), rng.random((10, 3136), f), rng.random((BATCH, 10), f))

    def steps(self, x, y, batches):
        for _ in batches:
            for k, (w, cols, dy) in enumerate(self.convs):
                w @ cols
                dy @ cols.T
                if k:
                    w.T @ dy
            a, w, dy = self.linear
            a @ w.T
            dy.T @ a
            dy @ w


def layer_times(model, x, y, repeats=15):
    """Median forward and backward ms of each layer of `model` on one batch (a plain loop, no hooks)."""
    loss = nn.CrossEntropyLoss()
    fwd = {i: [] for i in range(len(model))}
    bwd = {i: [] for i in range(len(model))}
    for _ in range(repeats):
        a = x
        for i, m in enumerate(model):
            t = time.perf_counter()
            a = m(a)
            fwd[i].append(time.perf_counter() - t)
        loss(a, y)
        g = loss.backward()
        for i in reversed(range(len(model))):
            t = time.perf_counter()
            g = model[i].backward(g)
            bwd[i].append(time.perf_counter() - t)
        for p in model.parameters():
            p.zero_grad()
    return [(f"{i} {type(m).__name__}", 1e3 * statistics.median(fwd[i]), 1e3 * statistics.median(bwd[i]))
            for i, m in enumerate(model)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=15, help="interleaved blocks per framework")
    ap.add_argument("--steps", type=int, default=10, help="training steps per block")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-layers", action="store_true", help="skip the per-layer times")
    args = ap.parse_args()

    n = BATCH * args.steps
    x, y = make_data(n)
    batches = list(range(0, n, BATCH))
    runners = [BpnetRunner(), GemmRunner()]
    data = {"bpnet": (x, y), "GEMMs": (x, y)}
    torch = load_torch(args.no_torch)
    if torch is not None:
        runners.append(TorchRunner(torch))
        data["torch"] = (torch.from_numpy(x), torch.from_numpy(y))
    threads = torch.get_num_threads() if torch is not None else os.cpu_count()
    print(f"MNIST CNN (Conv3x3 1->32, ReLU, MaxPool2, Conv3x3 32->64, ReLU, MaxPool2, Linear 3136->10), batch {BATCH}, "
          f"Adam, float32, {threads} threads; bpnet's loops: {kernels.describe()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}")
    for r in runners:  # warm-up (and numba's compilation)
        r.steps(*data[r.name], batches[:2])
    step_times = {r.name: [] for r in runners}
    for _ in range(args.blocks):
        for r in runners:
            t = time.perf_counter()
            r.steps(*data[r.name], batches)
            step_times[r.name].append((time.perf_counter() - t) / len(batches))
    med = {name: statistics.median(ts) for name, ts in step_times.items()}
    for name in ("bpnet", "torch", "GEMMs"):
        if name in med:
            print(f"{name:6s}: {1e3 * med[name]:7.1f} ms/step"
                  + (f", {BATCH / med[name]:7.0f} samples/s" if name != "GEMMs" else "")
                  + f" (median of {len(step_times[name])} blocks of {len(batches)} steps)")
    print(f"bpnet step / its matrix products: {med['bpnet'] / med['GEMMs']:.2f}x (target <= 1.5x)")
    if "torch" in med:
        print(f"ratio bpnet/torch samples/s: {med['torch'] / med['bpnet']:.2f}x (target >= 1.0x)")
    if not args.no_layers:
        print("bpnet per layer, median ms (forward, backward):")
        for name, f, b in layer_times(runners[0].model, x[:BATCH], y[:BATCH]):
            print(f"  {name:12s} {f:6.2f} {b:6.2f}")


if __name__ == "__main__":
    main()
