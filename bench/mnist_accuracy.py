"""MNIST accuracy of the engine's models, and the wall time they take.

    python bench/mnist_accuracy.py mlp     # 784-512-512-10, target >= 98.2% test accuracy; prints time to 98%
    python bench/mnist_accuracy.py cnn        # (Conv3x3-ReLU-MaxPool) x2, 32 and 64 channels, then Linear;
                                              # target >= 99.0% test accuracy
    python bench/mnist_accuracy.py cnn-dense  # the same with a 128-unit ReLU layer before the Linear head
    python bench/mnist_accuracy.py dashboard-mlp   # what the dashboard's MNIST page starts with (its defaults:
                                                   # Adam 2e-3, cosine, batch 256, 5 epochs, random shifts of 1 px)
    python bench/mnist_accuracy.py dashboard-cnn   # the same page with Model: CNN

Prints the wall time to 98% and to 99% validation accuracy (the whole split, at each epoch's end), the test
accuracy at the end, and the peak resident memory of the job (training and the final predictions).

Model choice uses only the validation split (10,000 images carved from the training set with a fixed seed);
the test set is evaluated once, at the end.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bpnet import optim  # noqa: E402
from bpnet.engine.config import validate_config  # noqa: E402
from bpnet.engine.trainer import Trainer  # noqa: E402

PRESETS = {
    "mlp": {"task": "mnist", "model": "mlp", "hidden": [512, 512], "activation": "relu", "dropout": 0.2,
            "optimizer": "adam", "lr": 0.001, "lr_schedule": "cosine", "batch_size": 128, "epochs": 20,
            "normalize_inputs": True, "seed": 0, "eval_every": 100000, "shift": 0},
    "cnn": {"task": "mnist", "model": "cnn", "conv_channels": [32, 64], "hidden": [], "activation": "relu",
            "dropout": 0.25, "optimizer": "adam", "lr": 0.001, "lr_schedule": "cosine", "batch_size": 64, "epochs": 5,
            "normalize_inputs": True, "seed": 0, "eval_every": 100000, "shift": 0},
}
PRESETS["cnn-dense"] = dict(PRESETS["cnn"], hidden=[128])
PRESETS["dashboard-mlp"] = validate_config({"task": "mnist", "model": "mlp"})
PRESETS["dashboard-cnn"] = validate_config({"task": "mnist", "model": "cnn"})
TARGET = {"mlp": 0.982, "cnn": 0.990, "cnn-dense": 0.990, "dashboard-mlp": 0.985, "dashboard-cnn": 0.990}
REACH = (0.98, 0.99)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(PRESETS))
    ap.add_argument("--epochs", type=int)
    args = ap.parse_args()
    config = dict(PRESETS[args.model])
    if args.epochs:
        config["epochs"] = args.epochs
    print(json.dumps(config))
    trainer = Trainer(config)
    optim.warm_up()  # as the dashboard does when it starts: no job waits for numba's compiled loops
    start = time.perf_counter()
    reached = {}
    for rec in trainer.steps():
        ev = rec.get("eval")
        if ev and ev["split"] == "full":
            elapsed = time.perf_counter() - start
            print(f"epoch {rec['epoch']:5.1f}  {elapsed:7.1f} s  train loss {ev['train_loss']:.4f} "
                  f"acc {ev['train_acc']:.4f}  val loss {ev['val_loss']:.4f} acc {ev['val_acc']:.4f}", flush=True)
            for level in REACH:
                if level not in reached and ev["val_acc"] >= level:
                    reached[level] = elapsed
    train_time = time.perf_counter() - start
    final = trainer.final_metrics(train_time)
    print(f"training time {train_time:.1f} s ({train_time / config['epochs']:.1f} s/epoch); validation accuracy "
          + "; ".join(f"{level:.0%} first reached after " + (f"{reached[level]:.1f} s" if level in reached else "never")
                      for level in REACH))
    print(f"test accuracy {final['test_acc']:.4f} (target {TARGET[args.model]:.3f}: "
          f"{'met' if final['test_acc'] >= TARGET[args.model] else 'NOT met'}), test loss {final['test_loss']:.4f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # (KiB on Linux)
    print(f"peak resident memory of the job (training and predictions, data included): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
