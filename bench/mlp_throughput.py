"""Throughput of one epoch of MLP 784-512-512-10 (ReLU, softmax cross-entropy, Adam, batch 128, float32).

Prints bpnet's samples/s and peak memory, the time its matrix products alone take (the 1.3x bound; measured
block by block between the training runs, so the ratio is not skewed by drift of the machine's speed), and,
when PyTorch is importable, PyTorch's samples/s on the CPU with the same thread count (its default Adam, and
Adam(fused=True)), measured interleaved block by block in this process, and the ratios. BPNET_NUMBA=0 times Adam in numpy alone;
--hooks times bpnet with a no-op forward and backward hook on every module; OPENBLAS_NUM_THREADS=1 times all on
one thread.

    python bench/mlp_throughput.py [--samples 60000] [--repeats 3] [--blocks 10] [--hooks]
"""
import argparse
import os
import statistics
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bpnet  # noqa: E402
from bpnet import nn, optim  # noqa: E402
from torch_side import load_torch  # noqa: E402  (bench/, the script's directory)

SIZES = (784, 512, 512, 10)
BATCH = 128


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, SIZES[0]), dtype=np.float32), rng.integers(0, SIZES[-1], n)


class BpnetRunner:
    name = "bpnet"

    def __init__(self, hooks=False):
        bpnet.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        self.model[0].needs_input_grad = False  # like torch: the data needs no gradient
        self.loss = nn.CrossEntropyLoss()
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)
        if hooks:  # what looking inside costs: a forward and a backward hook on every module, doing nothing
            for m in self.model.modules():
                m.register_forward_hook(lambda module, input, output: None)
                m.register_full_backward_hook(lambda module, grad_input, grad_output: None)

    def steps(self, x, y, batches):
        for i in batches:
            xb, yb = x[i:i + BATCH], y[i:i + BATCH]
            self.opt.zero_grad()
            self.loss(self.model(xb), yb)
            self.model.backward(self.loss.backward())
            self.opt.step()


class TorchRunner:
    name = "torch"

    def __init__(self, torch, fused=False):
        self.torch = torch
        if fused:
            self.name = "torch fused"
        torch.manual_seed(0)
        tnn = torch.nn
        self.model = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(),
                                    tnn.Linear(512, 10))
        self.loss = tnn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3, fused=True if fused else None)

    def steps(self, x, y, batches):
        for i in batches:
            xb, yb = x[i:i + BATCH], y[i:i + BATCH]
            self.opt.zero_grad()
            self.loss(self.model(xb), yb).backward()
            self.opt.step()


class GemmRunner:
    """Exactly the matrix products of each training step (forward, weight gradients, input gradients but the
    first layer's), on arrays of the same shapes: the floor an epoch is held against."""

    name = "GEMMs"

    def __init__(self):
        rng = np.random.default_rng(1)
        self.acts = [rng.random((BATCH, n), dtype=np.float32) for n in SIZES]
        self.weights = [rng.random((o, i), dtype=np.float32) for i, o in zip(SIZES[:-1], SIZES[1:])]

    def steps(self, x, y, batches):
        acts, weights = self.acts, self.weights
        for _ in batches:
            for k, w in enumerate(weights):
                acts[k] @ w.T  # forward
            for k in reversed(range(len(weights))):
                dy = acts[k + 1]
                dy.T @ acts[k]  # weight gradient
                if k:
                    dy @ weights[k]  # input gradient


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--repeats", type=int, default=3, help="epochs per framework")
    ap.add_argument("--blocks", type=int, default=10, help="interleaving blocks per epoch")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--hooks", action="store_true", help="time bpnet with a no-op forward and backward hook on every "
                                                         "module (without: none registered, the default)")
    args = ap.parse_args()

    x, y = make_data(args.samples)
    starts = list(range(0, args.samples - BATCH + 1, BATCH))
    blocks = np.array_split(starts, args.blocks)
    runners = [BpnetRunner(args.hooks), GemmRunner()]
    torch = load_torch(args.no_torch)
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        runners += [TorchRunner(torch), TorchRunner(torch, fused=True)]
        threads = torch.get_num_threads()
    else:
        threads = os.cpu_count()
    data = {r.name: (x, y) for r in runners}
    if torch is not None:
        data["torch"] = data["torch fused"] = (tx, ty)
    one_pass = optim.adam.adam_kernel() is not None
    print(f"bpnet's Adam update: {'numba, one pass' if one_pass else 'numpy, a dozen passes (no numba, or BPNET_NUMBA=0)'}")
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, Adam, float32, {len(starts)} steps/epoch, "
          f"{'no-op hooks on every module' if args.hooks else 'no hooks'}, "
          f"{threads} threads, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")

    for r in runners:  # warm-up
        r.steps(*data[r.name], blocks[0][:5])
    block_times = {r.name: [] for r in runners}
    epoch_times = {r.name: [] for r in runners}
    for _ in range(args.repeats):
        epoch = {r.name: 0.0 for r in runners}
        for block in blocks:
            for r in runners:
                t = time.perf_counter()
                r.steps(*data[r.name], block)
                dt = time.perf_counter() - t
                block_times[r.name].append(dt / len(block))
                epoch[r.name] += dt
        for name, t in epoch.items():
            epoch_times[name].append(t)
    tracemalloc.start()  # separately: tracing slows allocation, so it stays out of the timed runs
    runners[0].steps(x, y, blocks[0])
    tracemalloc_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    rate = {}
    for name in ["bpnet", "torch", "torch fused"]:
        if name in block_times:
            rate[name] = BATCH / statistics.median(block_times[name])
            print(f"{name:11s}: {rate[name]:9.0f} samples/s (median over {len(block_times[name])} blocks), "
                  f"epoch median {statistics.median(epoch_times[name]):.2f} s")
    gemm, bp_epoch = statistics.median(epoch_times["GEMMs"]), statistics.median(epoch_times["bpnet"])
    print(f"GEMMs alone (interleaved with the runs above): {gemm:.2f} s/epoch; bound 1.3x = {1.3 * gemm:.2f} s; "
          f"bpnet epoch / GEMM time = {bp_epoch / gemm:.2f}x"
          + (f"; torch epoch / GEMM time = {statistics.median(epoch_times['torch']) / gemm:.2f}x"
             if "torch" in epoch_times else ""))
    print(f"bpnet peak traced memory during training: {tracemalloc_peak / 2**20:.1f} MiB "
          f"(data {x.nbytes / 2**20:.1f} MiB not included)")
    if "torch" in rate:
        print(f"ratio bpnet/torch samples/s: {rate['bpnet'] / rate['torch']:.2f}x (target >= 1.4x); "
              f"bpnet/torch with Adam(fused=True): {rate['bpnet'] / rate['torch fused']:.2f}x (target >= 1.0x)")


if __name__ == "__main__":
    main()
