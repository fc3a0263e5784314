"""MNIST accuracy of the engine's models, and the wall time they take.

    python bench/mnist_accuracy.py mlp     # 784-512-512-10, target >= 98.2% test accuracy; prints time to 98%
    python bench/mnist_accuracy.py cnn        # (Conv3x3-ReLU-MaxPool) x2, 32 and 64 channels, then Linear;
                                              # target >= 99.0% test accuracy
    python bench/mnist_accuracy.py cnn-dense  # the same with a 128-unit ReLU layer before the Linear head

Model choice uses only the validation split (10,000 images carved from the training set with a fixed seed);
the test set is evaluated once, at the end.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bpnet.engine.trainer import Trainer  # noqa: E402

PRESETS = {
    "mlp": {"task": "mnist", "model": "mlp", "hidden": [512, 512], "activation": "relu", "dropout": 0.2,
            "optimizer": "adam", "lr": 0.001, "lr_schedule": "cosine", "batch_size": 128, "epochs": 20,
            "normalize_inputs": True, "seed": 0, "eval_every": 100000},
    "cnn": {"task": "mnist", "model": "cnn", "conv_channels": [32, 64], "hidden": [], "activation": "relu",
            "dropout": 0.25, "optimizer": "adam", "lr": 0.001, "lr_schedule": "cosine", "batch_size": 64, "epochs": 5,
            "normalize_inputs": True, "seed": 0, "eval_every": 100000},
}
PRESETS["cnn-dense"] = dict(PRESETS["cnn"], hidden=[128])
TARGET = {"mlp": 0.982, "cnn": 0.990, "cnn-dense": 0.990}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(PRESETS))
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--reach", type=float, default=0.98, help="report the wall time to this validation accuracy")
    args = ap.parse_args()
    config = dict(PRESETS[args.model])
    if args.epochs:
        config["epochs"] = args.epochs
    print(json.dumps(config))
    trainer = Trainer(config)
    start = time.perf_counter()
    reached = None
    for rec in trainer.steps():
        ev = rec.get("eval")
        if ev and ev["split"] == "full":
            elapsed = time.perf_counter() - start
            print(f"epoch {rec['epoch']:5.1f}  {elapsed:7.1f} s  train loss {ev['train_loss']:.4f} "
                  f"acc {ev['train_acc']:.4f}  val loss {ev['val_loss']:.4f} acc {ev['val_acc']:.4f}", flush=True)
            if reached is None and ev["val_acc"] >= args.reach:
                reached = elapsed
    train_time = time.perf_counter() - start
    final = trainer.final_metrics(train_time)
    print(f"training time {train_time:.1f} s ({train_time / config['epochs']:.1f} s/epoch); "
          f"validation accuracy {args.reach:.0%} first reached after "
          + (f"{reached:.1f} s" if reached is not None else "never"))
    print(f"test accuracy {final['test_acc']:.4f} (target {TARGET[args.model]:.3f}: "
          f"{'met' if final['test_acc'] >= TARGET[args.model] else 'NOT met'}), test loss {final['test_loss']:.4f}")


if __name__ == "__main__":
    main()
