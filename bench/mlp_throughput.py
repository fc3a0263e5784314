"""Throughput of one epoch of MLP 784-512-512-10 (ReLU, softmax cross-entropy, Adam, batch 128, float32).

Prints bpnet's samples/s and peak memory, the time its matrix products alone take (the 1.6x bound; measured
block by block between the training runs, so the ratio is not skewed by drift of the machine's speed), and,
when PyTorch is importable, PyTorch's samples/s on the CPU with the same thread count, measured
interleaved block by block in this process, and the ratio. Also numpy's own floor: the same step hand-fused
in plain numpy (checked to compute bpnet's updates), with and without its Adam update.

    python bench/mlp_throughput.py [--samples 60000] [--repeats 3] [--blocks 10]
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

SIZES = (784, 512, 512, 10)
BATCH = 128


def make_data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, SIZES[0]), dtype=np.float32), rng.integers(0, SIZES[-1], n)


class BpnetRunner:
    name = "bpnet"

    def __init__(self):
        bpnet.manual_seed(0)
        self.model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
        self.model[0].needs_input_grad = False  # like torch: the data needs no gradient
        self.loss = nn.CrossEntropyLoss()
        self.opt = optim.Adam(self.model.parameters(), lr=1e-3)

    def steps(self, x, y, batches):
        for i in batches:
            xb, yb = x[i:i + BATCH], y[i:i + BATCH]
            self.opt.zero_grad()
            self.loss(self.model(xb), yb)
            self.model.backward(self.loss.backward())
            self.opt.step()


class TorchRunner:
    name = "torch"

    def __init__(self, torch):
        self.torch = torch
        torch.manual_seed(0)
        tnn = torch.nn
        self.model = tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 512), tnn.ReLU(),
                                    tnn.Linear(512, 10))
        self.loss = tnn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)

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


class FusedNumpyRunner:
    """The same training step written straight in numpy, with no modules or optimizer objects: one flat buffer
    for all parameters, weight gradients written by the GEMMs, Adam as ten whole-buffer passes (numpy has no
    fused multiply-add). What numpy itself can do on this machine, with and without the Adam update."""

    def __init__(self, adam=True):
        self.name = "fused numpy" if adam else "fused numpy, no Adam"
        self.adam, self.t = adam, 0
        params = list(BpnetRunner().model.parameters())
        n = sum(p.size for p in params)
        self.p, self.g, self.m, self.v, self.tmp = (np.zeros(n, np.float32) for _ in range(5))
        self.views, offset = [], 0
        for q in params:
            self.p[offset:offset + q.size] = q.data.ravel()
            span = slice(offset, offset + q.size)
            self.views += [self.p[span].reshape(q.shape), self.g[span].reshape(q.shape)]
            offset += q.size

    def steps(self, x, y, batches):
        w1, dw1, b1, db1, w2, dw2, b2, db2, w3, dw3, b3, db3 = self.views
        for i in batches:
            xb, yb = x[i:i + BATCH], y[i:i + BATCH]
            h1 = np.maximum(np.add(xb @ w1.T, b1), 0)
            h2 = np.maximum(np.add(h1 @ w2.T, b2), 0)
            z = h2 @ w3.T + b3
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            e /= e.sum(axis=1, keepdims=True)
            e[np.arange(len(yb)), yb] -= 1  # softmax - one_hot: d loss / d logits, times the batch size
            dz = e / len(yb)
            np.matmul(dz.T, h2, out=dw3)
            db3[...] = dz.sum(axis=0)
            dh2 = (dz @ w3) * (h2 > 0)
            np.matmul(dh2.T, h1, out=dw2)
            db2[...] = dh2.sum(axis=0)
            dh1 = (dh2 @ w2) * (h1 > 0)
            np.matmul(dh1.T, xb, out=dw1)
            db1[...] = dh1.sum(axis=0)
            if self.adam:
                self.adam_step()

    def adam_step(self, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
        self.t += 1
        p, g, m, v, tmp = self.p, self.g, self.m, self.v, self.tmp
        m *= b1
        m += g
        v *= b2
        np.multiply(g, g, out=tmp)
        v += tmp
        k = np.sqrt((1 - b2 ** self.t) / (1 - b2))
        np.sqrt(v, out=tmp)
        tmp += eps * k
        np.divide(m, tmp, out=tmp)
        tmp *= lr * (1 - b1) * k / (1 - b1 ** self.t)
        p -= tmp


def check_same_math(x, y):
    """The hand-fused step must train exactly like bpnet, or its figure means nothing."""
    ours, fused = BpnetRunner(), FusedNumpyRunner()
    start = fused.p.copy()
    ours.steps(x, y, range(0, 5 * BATCH, BATCH))
    fused.steps(x, y, range(0, 5 * BATCH, BATCH))
    ours_flat = np.concatenate([p.data.ravel() for p in ours.model.parameters()])
    # float32 round-off differs between the two orders of operations: compare with the size of the updates
    if np.abs(ours_flat - fused.p).max() > 0.01 * np.abs(ours_flat - start).max():
        raise SystemExit("the hand-fused numpy step does not compute bpnet's updates")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--repeats", type=int, default=3, help="epochs per framework")
    ap.add_argument("--blocks", type=int, default=10, help="interleaving blocks per epoch")
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()

    x, y = make_data(args.samples)
    check_same_math(x, y)
    starts = list(range(0, args.samples - BATCH + 1, BATCH))
    blocks = np.array_split(starts, args.blocks)
    runners = [BpnetRunner(), GemmRunner(), FusedNumpyRunner(), FusedNumpyRunner(adam=False)]
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch not importable: bpnet only")
    if torch is not None:
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        runners.append(TorchRunner(torch))
        threads = torch.get_num_threads()
    else:
        threads = os.cpu_count()
    data = {r.name: (x, y) for r in runners}
    if torch is not None:
        data["torch"] = (tx, ty)
    one_pass = optim.adam.adam_kernel() is not None
    print(f"bpnet's Adam update: {'numba, one pass' if one_pass else 'numpy, ten passes (no numba, or BPNET_NUMBA=0)'}")
    print(f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, Adam, float32, {len(starts)} steps/epoch, "
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
    for name in ["bpnet", "torch"]:
        if name in block_times:
            rate[name] = BATCH / statistics.median(block_times[name])
            print(f"{name:6s}: {rate[name]:9.0f} samples/s (median over {len(block_times[name])} blocks), "
                  f"epoch median {statistics.median(epoch_times[name]):.2f} s")
    gemm, bp_epoch = statistics.median(epoch_times["GEMMs"]), statistics.median(epoch_times["bpnet"])
    print(f"GEMMs alone (interleaved with the runs above): {gemm:.2f} s/epoch; bound 1.6x = {1.6 * gemm:.2f} s; "
          f"bpnet epoch / GEMM time = {bp_epoch / gemm:.2f}x"
          + (f"; torch epoch / GEMM time = {statistics.median(epoch_times['torch']) / gemm:.2f}x"
             if "torch" in epoch_times else ""))
    fused = {name: statistics.median(epoch_times[name]) / gemm for name in ("fused numpy", "fused numpy, no Adam")}
    print(f"plain numpy's floor, the step hand-fused without bpnet or numba: {fused['fused numpy']:.2f}x the GEMM time "
          f"({fused['fused numpy, no Adam']:.2f}x without the Adam update)")
    print(f"bpnet peak traced memory during training: {tracemalloc_peak / 2**20:.1f} MiB "
          f"(data {x.nbytes / 2**20:.1f} MiB not included)")
    if "torch" in rate:
        print(f"ratio bpnet/torch samples/s: {rate['bpnet'] / rate['torch']:.2f}x")


if __name__ == "__main__":
    main()
