"""Export to PyTorch: the source of a small runnable script that builds the same torch.nn.Sequential as a
saved bpnet model and loads its .npz into it (the state_dict keys are torch's own: nothing is renamed).

The script needs numpy and torch only (not bpnet); run beside its .npz it prints the network, and with a CSV of
inputs (as `bpnet predict` reads them) the outputs, normalised and turned into probabilities as bpnet does.
"""
import json

from .. import nn

__all__ = ["torch_script", "torch_layer"]

_TEMPLATE = '''"""PyTorch twin of a bpnet model: task {task}, inputs {inputs}, outputs {outputs}.

    python {script} [MODEL.npz] [INPUTS.csv]      # needs numpy and torch (not bpnet)

build() makes the same torch.nn.Sequential as bpnet trained, load() fills it from the model's .npz (its arrays are
the state_dict, with torch's keys), predict(model, x) takes raw inputs (one row per sample: {inputs}) and
normalises them as the training data was. With a CSV of inputs (a header row of names is allowed) it prints one
line of outputs per row.
"""
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

MODEL_FILE = {npz!r}
IN_SHAPE = {in_shape!r}
INPUTS = {inputs_list!r}
OUTPUTS = {outputs_list!r}
CLASSIFIER = {classifier!r}  # the outputs are class probabilities (a softmax of the network's outputs)
NORMALIZATION = {normalization}


def build():
    return nn.Sequential(
{layers}
    )


def load(path=None):
    path = Path(path) if path else Path(__file__).with_name(MODEL_FILE)
    model = build()
    with np.load(path, allow_pickle=False) as npz:
        model.load_state_dict({{name: torch.from_numpy(npz[name]) for name in npz.files}})
    return model.eval()


def normalize(x):
    """The model's inputs from raw inputs (float32), as bpnet computes them."""
    spec = NORMALIZATION
    if spec["kind"] == "none":
        return x
    dtype = np.dtype(spec["dtype"])
    if spec["kind"] == "scale":
        return (x * dtype.type(spec["factor"])).astype(np.float32)
    mean, std = np.asarray(spec["mean"], dtype), np.asarray(spec["std"], dtype)
    if x.ndim > 2:
        mean, std = mean.reshape(()), std.reshape(())
    return ((x - mean) / std).astype(np.float32)


def predict(model, x):
    x = np.asarray(x, dtype=np.float32).reshape((-1,) + IN_SHAPE)
    with torch.no_grad():
        out = model(torch.from_numpy(normalize(x)))
    return (torch.softmax(out, dim=1) if CLASSIFIER else out).numpy()


if __name__ == "__main__":
    model = load(sys.argv[1] if len(sys.argv) > 1 else None)
    if len(sys.argv) < 3:
        print(model)
    else:
        with open(sys.argv[2]) as f:
            rows = [line.split(",") for line in f.read().splitlines() if line.strip()]
        if rows and rows[0][0].strip() == INPUTS[0]:
            rows = rows[1:]
        print(",".join(OUTPUTS))
        for row in predict(model, np.array(rows, dtype=np.float32)):
            print(",".join(f"{{v:.9g}}" for v in row))
'''


def torch_layer(module):
    """The torch constructor call (source) of a bpnet layer of the kinds build_model makes."""
    if isinstance(module, nn.Linear):
        return f"nn.Linear({module.in_features}, {module.out_features}, bias={module.bias is not None})"
    if isinstance(module, nn.Conv2d):
        return (f"nn.Conv2d({module.in_channels}, {module.out_channels}, kernel_size={module.kernel_size}, "
                f"stride={module.stride}, padding={module.padding}, bias={module.bias is not None})")
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return f"nn.{type(module).__name__}({module.num_features}, eps={module.eps!r}, momentum={module.momentum!r})"
    if isinstance(module, nn.LeakyReLU):
        return f"nn.LeakyReLU(negative_slope={module.negative_slope!r})"
    if isinstance(module, nn.Dropout):
        return f"nn.Dropout(p={module.p!r})"
    if isinstance(module, nn.MaxPool2d):
        return f"nn.MaxPool2d(kernel_size={module.kernel_size}, stride={module.stride}, padding={module.padding})"
    if isinstance(module, nn.Flatten):
        return f"nn.Flatten(start_dim={module.start_dim}, end_dim={module.end_dim})"
    if isinstance(module, (nn.ReLU, nn.Tanh, nn.Sigmoid)):
        return f"nn.{type(module).__name__}()"
    raise ValueError(f"no PyTorch export for {type(module).__name__}")


def torch_script(saved, npz_name, script_name):
    """The script's source for a SavedModel whose .npz is saved as npz_name (found beside the script)."""
    layers = "\n".join(f"        {torch_layer(m)},  # {i}" for i, m in enumerate(saved.model))
    inputs = ", ".join(saved.inputs) if saved.task != "mnist" else "784 grey levels in [0, 1]"
    return _TEMPLATE.format(task=saved.task, inputs=inputs, outputs=", ".join(saved.outputs), script=script_name,
                            npz=npz_name, in_shape=tuple(saved.in_shape), inputs_list=saved.inputs,
                            outputs_list=saved.outputs, classifier=saved.classifier,
                            normalization=json.dumps(saved.normalization), layers=layers)
