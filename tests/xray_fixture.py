"""An X-ray of real training steps, made with bpnet's hooks, for the page's renderers to be tested against.

    python tests/xray_fixture.py [out.json] [--task classification] [--steps 3]

trains a small network of the engine (Trainer) for a few steps and records the last one as the X-ray JSON of
docs/xray.md: every module's output and grad_output (forward and full backward hooks), every parameter before,
its gradient and after, the optimiser's state, and each hidden unit's values over the input grid. Nothing is
computed for display: the arrays are copies of the ones the network passed on.
"""
import json
import sys

import numpy as np

from bpnet import nn
from bpnet.engine.events import clean
from bpnet.engine.trainer import Trainer
from bpnet.engine.xray import optimizer_settings
from bpnet.grad_mode import no_grad

__all__ = ["CONFIGS", "make_xray"]

# the seed lesson's network (3 inputs, sigmoid 3-3-2, two classes), a 1-D fit, a batch-normed classifier and a
# surface fit
CONFIGS = {
    "classification": {"task": "classification", "dataset": "spheres", "activation": "sigmoid", "hidden": [3, 3, 2],
                       "optimizer": "sgd", "lr": 0.1, "batch_size": 8, "epochs": 5, "n_samples": 200},
    "function": {"task": "function", "formula": "sin(3*x)", "hidden": [5, 4], "activation": "tanh",
                 "optimizer": "adam", "lr": 0.01, "batch_size": 6, "epochs": 5, "n_samples": 60},
    "batch_norm": {"task": "classification", "dataset": "moons", "activation": "tanh", "hidden": [3, 2], "batch_norm": True,
                   "optimizer": "sgd", "lr": 0.1, "batch_size": 8, "epochs": 5, "n_samples": 200},
    "surface": {"task": "surface", "formula": "sin(x)*cos(y)", "hidden": [6, 4], "activation": "relu",
                "optimizer": "momentum", "lr": 0.05, "batch_size": 8, "epochs": 5, "n_samples": 100},
}
ACTIVATIONS = (nn.Tanh, nn.Sigmoid, nn.ReLU, nn.LeakyReLU)


def _record(model, criterion):
    """Hooks on every module and the loss: {module: {"input", "output", "grad_output"}} copies, and the targets."""
    seen, handles = {}, []

    def forward(module, args, output):
        if not module.training:  # the validation after the step, in eval mode
            return
        seen.setdefault(module, {}).update(input=np.array(args[0]), output=np.array(output))

    def backward(module, grad_input, grad_output):
        seen.setdefault(module, {})["grad_output"] = np.array(grad_output[0])

    for m in model:
        handles += [m.register_forward_hook(forward), m.register_full_backward_hook(backward)]
    def target(module, args, output):
        if model.training:
            seen["target"] = np.array(args[1])

    handles.append(criterion.register_forward_hook(target))
    return seen, handles


def _unit_values(trainer):
    """Each hidden activation module's outputs on the task's input grid: {name: (units, grid points)}."""
    task, model = trainer.task, trainer.model
    outputs, handles = {}, []
    for name, m in _names(model):
        if isinstance(m, ACTIVATIONS):
            handles.append(m.register_forward_hook(lambda mod, a, out, name=name: outputs.__setitem__(name, np.array(out))))
    was = model.training
    model.eval()
    try:
        with no_grad():
            model(task.grid)
    finally:
        model.train(was)
        for h in handles:
            h.remove()
    if task.config["task"] == "function":
        grid = {"x": task.grid_raw[:, 0]}
    else:
        grid = {"xs": task.xs, "ys": task.ys}
    return grid, [{"name": n, "values": v.T} for n, v in outputs.items()]


def _names(model):
    """(display name, module): 'Linear 1', 'Sigmoid 1', ... counted per type, as the dashboard names layers."""
    counts, out = {}, []
    for m in model:
        kind = type(m).__name__
        counts[kind] = counts.get(kind, 0) + 1
        out.append((f"{kind} {counts[kind]}", m))
    return out


def make_xray(config, steps=3):
    """Train `steps` minibatches of `config` and return the X-ray of the last one (a JSON-ready dict)."""
    trainer = Trainer(config)
    model, opt, criterion = trainer.model, trainer.optimizer, trainer.task.criterion
    run = trainer.steps()
    for _ in range(steps - 1):
        next(run)
    before = {id(p): np.array(p.data) for p in model.parameters()}
    state_before = {id(p): {k: np.array(v) for k, v in opt.state.get(p, {}).items()} for p in model.parameters()}
    seen, handles = _record(model, criterion)
    rec = next(run)
    for h in handles:
        h.remove()
    layers = []
    for i, (name, m) in enumerate(_names(model)):
        got = seen[m]
        layer = {"name": name, "type": type(m).__name__, "index": i, "input": got["input"], "output": got["output"],
                 "grad_output": got["grad_output"]}
        params = {}
        for pname, p in m.named_parameters():
            state = dict(opt.state.get(p, {}))  # arrays, and scalars such as Adam's step count
            params[pname] = {"before": before[id(p)], "grad": np.array(p.grad), "after": np.array(p.data), "state": state,
                             "state_before": state_before[id(p)]}
        if params:
            layer["params"] = params
        layers.append(layer)
    grid, units = _unit_values(trainer)
    return clean({"step": rec["step"], "lr": rec["lr"], "loss": rec["loss"], "optimizer": trainer.config["optimizer"],
                  "optimizer_settings": optimizer_settings(opt),
                  "sample_count": len(seen["target"]), "x": layers[0]["input"], "y": seen["target"], "layers": layers,
                  "loss_fn": type(criterion).__name__, "reduction": criterion.reduction,
                  "units": {"grid": grid, "layers": units}, "summary": False})


if __name__ == "__main__":
    args = sys.argv[1:]
    task = args[args.index("--task") + 1] if "--task" in args else "classification"
    steps = int(args[args.index("--steps") + 1]) if "--steps" in args else 3
    path = next((a for a in args if a.endswith(".json")), None)
    text = json.dumps(make_xray(CONFIGS[task], steps))
    if path:
        with open(path, "w") as f:
            f.write(text)
    else:
        print(text)
