"""The X-ray of a training step: every module's output and output gradient, every parameter before, its
gradient, after the update, and the optimiser's state, recorded with the library's hooks as the network
computed them (register_forward_hook / register_full_backward_hook), never recomputed for display.

    xray = XRay(trainer)
    xray.arm()                 # between two steps (model lock held): hooks on, the weights "before" copied
    record = next(steps)       # the step runs; the hooks keep copies of what flows through
    xray.finish(record)        # gradients, "after" and the optimiser's state copied; hooks off
    (a big network's X-ray keeps norms, percentiles and pictures of the same arrays instead of copies)
    xray.json()                # the JSON of docs/xray.md

Hooks are registered only while a step is being recorded, so a job nobody x-rays pays nothing. Networks small
enough to draw (SMALL) get every number; bigger ones a per-layer summary with pictures (docs/xray.md).
"""
import numpy as np

from .. import nn, no_grad

__all__ = ["XRay", "SMALL", "is_small", "dists", "optimizer_settings"]

# small enough to draw: weight layers, units per layer, input features, samples in the batch
SMALL = {"weight_layers": 6, "units": 32, "features": 8, "batch": 128}
UNIT_GRID = 20  # a 2-D task's units are pictured on at most UNIT_GRID x UNIT_GRID points of its grid
WEIGHTED = (nn.Linear, nn.Conv2d)
SATURATING = (nn.Tanh, nn.Sigmoid)
ACTIVATIONS = (nn.ReLU, nn.LeakyReLU) + SATURATING
PERCENTILES = (5, 25, 50, 75, 95)
SAMPLED = 4096  # values a percentile is taken over at most
TILES, IMAGE_SIDE = 64, 64  # summary: first-layer tiles shown, largest side of a weight picture


def is_small(config, in_shape):
    """True when the network is drawn unit by unit (every number in the X-ray), else a summary."""
    return (config.get("model") != "cnn" and len(in_shape) == 1 and in_shape[0] <= SMALL["features"]
            and len(config["hidden"]) + 1 <= SMALL["weight_layers"]
            and all(h <= SMALL["units"] for h in config["hidden"]) and config["batch_size"] <= SMALL["batch"])


def module_names(model):
    """'Linear 1', 'Tanh 1', 'Linear 2'... : each module of the Sequential, numbered within its type."""
    counts, names = {}, []
    for m in model:
        kind = type(m).__name__
        counts[kind] = counts.get(kind, 0) + 1
        names.append(f"{kind} {counts[kind]}")
    return names


def _copy(value):
    return None if value is None else np.array(value, copy=True)


def _state(optimizer, p):
    """A copy of the optimiser's state for p (momentum_buffer; Adam's step, exp_avg, exp_avg_sq...)."""
    return {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v for k, v in optimizer.state[p].items()}


SETTINGS = ("momentum", "dampening", "nesterov", "weight_decay", "decoupled_weight_decay", "betas", "eps", "amsgrad",
            "alpha", "centered", "lr_decay", "maximize")


def optimizer_settings(optimizer):
    """The hyper-parameters of the optimiser's update besides lr (its first param group's, PyTorch's names)."""
    group = optimizer.param_groups[0]
    return {k: group[k] for k in SETTINGS if k in group}


def percentiles(a):
    """The PERCENTILES of an array: exact up to SAMPLED values, else of SAMPLED evenly spaced ones (a large
    layer's would cost more than its training step: the X-ray must cost nothing measurable)."""
    a = np.asarray(a).ravel()
    if a.size > SAMPLED:
        a = a[::a.size // SAMPLED]
    a = np.sort(a)  # np.percentile's 'linear' rule, without its overhead (~1 ms a call); sorted in its own
    pos = np.asarray(PERCENTILES) / 100 * (a.size - 1)  # dtype (half the time of float64's), mixed in float64
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, a.size - 1)
    a_lo, a_hi = a[lo].astype(np.float64), a[hi].astype(np.float64)
    return a_lo + (pos - lo) * (a_hi - a_lo)


def _summary(a):
    """What a big network's X-ray keeps of an array: its shape, norm and percentiles."""
    a = np.asarray(a)
    if not a.size:
        return {"shape": list(a.shape), "norm": 0.0, "percentiles": [None] * len(PERCENTILES)}
    flat = a.ravel()
    return {"shape": list(a.shape), "norm": float(np.sqrt(np.dot(flat, flat))), "percentiles": percentiles(a)}


def _picture(a, side=IMAGE_SIDE):
    """A 2-D picture of a weight array (conv: out x in*k*k), every value shown one the network holds (strided)."""
    a = np.asarray(a)
    a = a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)
    return a[::max(1, -(-a.shape[0] // side)), ::max(1, -(-a.shape[1] // side))]


class XRay:
    """Records the steps it is armed for, keeping the latest (see the module docstring)."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.modules = list(trainer.model)
        self.names = module_names(trainer.model)
        self.small = is_small(trainer.config, trainer.task.in_shape)
        self.latest = None  # the last recorded step: numpy copies
        self._handles, self._rec = [], None

    @property
    def armed(self):
        return self._rec is not None

    def arm(self, full=True):
        """Record the next step (call between two steps, with the model lock held). full=False: only the
        activation modules' outputs, for the distributions (finish() then returns them, the X-ray stays)."""
        if self.armed:
            return
        opt = self.trainer.optimizer
        params = [{n: p for n, p in m.named_parameters()} for m in self.modules] if full else None
        self._rec = {"phase": "forward", "full": full, "x": None, "y": None, "outputs": [None] * len(self.modules),
                     "grads": [None] * len(self.modules), "params": params}
        if full:  # (a big network's X-ray keeps figures, not copies: it is summarised as it is recorded)
            keep = _copy if self.small else _summary
            self._rec.update(before=[{n: keep(p.data) for n, p in ps.items()} for ps in params],
                             state_before=[{n: _state(opt, p) if self.small else {} for n, p in ps.items()}
                                           for ps in params], out_stats=[None] * len(self.modules))
        for i, m in enumerate(self.modules):
            if full or isinstance(m, ACTIVATIONS):
                self._handles.append(m.register_forward_hook(self._forward_hook(i)))
            if full:
                self._handles.append(m.register_full_backward_hook(self._backward_hook(i)))
        self._handles.append(self.trainer.task.criterion.register_forward_hook(self._loss_hook))

    def _forward_hook(self, i):
        def hook(module, inputs, output):
            rec = self._rec
            if rec is None or rec["phase"] != "forward":  # an evaluation's forward in the same step
                return
            if i == 0:
                rec["x"] = _copy(inputs[0]) if self.small else list(inputs[0].shape)
            if self.small or isinstance(module, ACTIVATIONS):  # (the activations for the distributions)
                rec["outputs"][i] = _copy(output)
            if not self.small and rec["full"]:
                rec["out_stats"][i] = _summary(output)
                if isinstance(module, nn.Conv2d):
                    rec["outputs"][i] = _copy(output[:1])  # one digit's feature maps
        return hook

    def _backward_hook(self, i):
        def hook(module, grad_input, grad_output):
            rec = self._rec
            if rec is not None and rec["phase"] == "backward":  # (no call before the first weight layer:
                rec["grads"][i] = (_copy if self.small else _summary)(grad_output[0])  # the data needs no gradient)
        return hook

    def _loss_hook(self, module, inputs, loss):
        rec = self._rec
        if rec is not None and rec["phase"] == "forward":
            rec["y"], rec["phase"] = _copy(inputs[1]), "backward"

    def disarm(self):
        """Hooks off, nothing kept (a step that did not complete: stopped, diverged, the end of the data)."""
        for h in self._handles:
            h.remove()
        self._handles, self._rec = [], None

    def finish(self, record):
        """The step `record` (the trainer's record of it) has run: keep it as the latest X-ray (if armed with
        full=True). Returns the record (its "outputs": each module's, None where not recorded), or None."""
        rec, opt = self._rec, self.trainer.optimizer
        self.disarm()
        if rec is None or rec["phase"] != "backward":
            return None
        if not rec["full"]:
            return rec
        rec.update(step=record["step"], lr=record["lr"], loss=record["loss"])
        if self.small:
            rec["after"] = [{n: _copy(p.data) for n, p in ps.items()} for ps in rec["params"]]
            rec["grad"] = [{n: _copy(p.grad) for n, p in ps.items()} for ps in rec["params"]]
            rec["state"] = [{n: _state(opt, p) for n, p in ps.items()} for ps in rec["params"]]
            rec["units"] = self._units()
            del rec["params"]
            self.latest = rec  # (published whole: a reader in another thread sees this X-ray or the one before)
        else:  # a big network's X-ray: figures and pictures of the live arrays, now
            self.latest = {**{k: rec[k] for k in ("step", "lr", "loss", "y")}, "x_shape": rec["x"],
                           "layers": [self._summary_layer(rec, i) for i in range(len(self.modules))]}
        return rec

    def _units(self):
        """Each hidden unit's picture: every activation module's output over the task's input grid, with the
        weights after the step (eval mode: batch norm's running statistics, no dropout)."""
        task = self.trainer.task
        if not hasattr(task, "grid"):
            return None
        if hasattr(task, "grid_raw"):
            grid, keep = {"x": task.grid_raw[:, 0]}, slice(None)
            shape = (len(task.grid_raw),)
        else:
            sx, sy = -(-len(task.xs) // UNIT_GRID), -(-len(task.ys) // UNIT_GRID)
            idx = np.arange(len(task.ys) * len(task.xs)).reshape(len(task.ys), len(task.xs))[::sy, ::sx]
            grid, keep, shape = {"xs": task.xs[::sx], "ys": task.ys[::sy]}, idx.ravel(), idx.shape
        picks = [i for i, m in enumerate(self.modules) if isinstance(m, ACTIVATIONS)]
        seen = {}
        handles = [self.modules[i].register_forward_hook(
            lambda m, a, out, i=i: seen.__setitem__(i, np.array(out, copy=True))) for i in picks]
        was_training = self.trainer.model.training
        try:
            self.trainer.model.eval()
            with no_grad():
                self.trainer.model(task.grid[keep])
        finally:
            self.trainer.model.train(was_training)
            for h in handles:
                h.remove()
        return {"grid": grid, "layers": [{"name": self.names[i], "index": i,
                                          "values": [seen[i][:, u].reshape(shape) for u in range(seen[i].shape[1])]}
                                         for i in picks]}

    # --- the JSON -------------------------------------------------------------------------------
    def json(self):
        """The latest X-ray as docs/xray.md describes it (numpy arrays; events.clean makes them JSON)."""
        rec, t = self.latest, self.trainer
        if rec is None:
            return None
        c = t.config
        out = {"step": rec["step"], "lr": rec["lr"], "loss": rec["loss"], "optimizer": c["optimizer"],
               "optimizer_settings": optimizer_settings(t.optimizer), "loss_fn": type(t.task.criterion).__name__, "reduction": t.task.criterion.reduction,
               "sample_count": len(rec["y"]), "summary": not self.small, "batch_norm": bool(c["batch_norm"])}
        if self.small:
            out.update(x=rec["x"], y=rec["y"], units=rec.get("units"),
                       layers=[self._layer(rec, i) for i in range(len(self.modules))])
        else:
            out.update(x_shape=rec["x_shape"], y=rec["y"], layers=rec["layers"])
        return out

    def _layer(self, rec, i):
        """A small network's layer: every number."""
        m = self.modules[i]
        layer = {"name": self.names[i], "type": type(m).__name__, "index": i,
                 "output": rec["outputs"][i], "grad_output": rec["grads"][i]}
        if rec["before"][i]:
            layer["params"] = {n: {"before": rec["before"][i][n], "grad": rec["grad"][i][n], "after": rec["after"][i][n],
                                   "state": rec["state"][i][n], "state_before": rec["state_before"][i][n]}
                               for n in rec["before"][i]}
        return layer

    def _summary_layer(self, rec, i):
        """A big network's layer, right after its step: shapes, norms, percentiles and pictures."""
        m, out = self.modules[i], rec["out_stats"][i]
        layer = {"name": self.names[i], "type": type(m).__name__, "index": i, "output_shape": out["shape"],
                 "output": {k: out[k] for k in ("norm", "percentiles")}, "grad_output": rec["grads"][i]}
        if rec["before"][i]:
            layer["params"] = {n: {"shape": list(p.shape), "before": rec["before"][i][n], "grad": _summary(p.grad),
                                   "after": _summary(p.data)} for n, p in rec["params"][i].items()}
            layer["images"] = self._images(rec, i, m)
        return layer

    def _images(self, rec, i, m):
        """Summary pictures: a weight layer's W and dL/dW; MNIST's first Linear as 28x28 tiles; a conv layer's
        filters and one digit's feature maps."""
        if not isinstance(m, WEIGHTED):
            return None
        w, g = m.weight.data, m.weight.grad  # (live: copied into pictures now, between two steps)
        images = {"weight": _picture(w).copy(), "grad": _picture(g).copy()}
        if isinstance(m, nn.Linear) and w.shape[1] == 784:
            images["tiles"] = w[:TILES].reshape(-1, 28, 28).copy()
        if isinstance(m, nn.Conv2d):
            images["filters"] = w[:, 0].copy() if w.shape[1] == 1 else w.mean(axis=1)
            images["feature_maps"] = rec["outputs"][i][0]
        return images


def dists(trainer, outputs):
    """The 'dists' payload of a step: per weight layer the percentiles of its weight, gradient and of the
    following activation module's output (`outputs`: {module index: output}), the share of dead ReLU units
    (never active on the batch) and of saturated sigmoid/tanh outputs (within 0.02 of their bounds)."""
    modules, names = list(trainer.model), module_names(trainer.model)
    layers = []
    for i, m in enumerate(modules):
        if not isinstance(m, WEIGHTED):
            continue
        entry = {"name": names[i], "weight": percentiles(m.weight.data),
                 "grad": percentiles(m.weight.grad), "activation": None, "dead": None,
                 "saturated": None}
        act = next((j for j in range(i + 1, len(modules)) if isinstance(modules[j], ACTIVATIONS + WEIGHTED)), None)
        if act is not None and isinstance(modules[act], ACTIVATIONS) and act in outputs:
            a, kind = outputs[act], modules[act]
            entry["activation"] = percentiles(a)
            units = a.reshape(a.shape[0], a.shape[1], -1)
            if isinstance(kind, nn.ReLU):
                entry["dead"] = float(np.mean(~(units > 0).any(axis=(0, 2))))
            elif isinstance(kind, SATURATING):
                lo = -1.0 if isinstance(kind, nn.Tanh) else 0.0
                entry["saturated"] = float(np.mean((a - lo < 0.02) | (1.0 - a < 0.02)))
        layers.append(entry)
    return {"step": trainer.step, "layers": layers}
