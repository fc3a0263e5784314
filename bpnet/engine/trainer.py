"""One training run, step by step: data, model and optimiser from a config; no threads, no events."""
import math

import numpy as np

from .. import nn, optim
from ..data import DataLoader, RandomShift
from .config import validate_config
from .models import build_model, weight_layers
from .tasks import make_task

__all__ = ["Trainer", "Diverged", "Interrupted", "make_optimizer"]


class Diverged(RuntimeError):
    """The loss became NaN or infinite."""


class Interrupted(Exception):
    """A stop was asked (Trainer.stop_requested) inside a step or an evaluation: it is abandoned between two
    layers, the parameters as after the last complete step (batch norm's running statistics may have taken in
    the interrupted batch, as after any forward pass in training mode)."""


class _StopCheck(nn.Module):
    """An identity layer: raises Interrupted, forward or backward, once the trainer is asked to stop."""

    def __init__(self, trainer):
        super().__init__()
        self._trainer = trainer

    def forward(self, x):
        self._trainer.check()
        return x

    def backward(self, grad_output):
        self._trainer.check()
        return grad_output


def make_optimizer(config, params):
    """The optimiser a config names, with its hyper-parameters."""
    name, lr, wd, mu = config["optimizer"], config["lr"], config["weight_decay"], config["momentum"]
    if name in ("sgd", "momentum", "nesterov"):
        return optim.SGD(params, lr, momentum=0.0 if name == "sgd" else mu, nesterov=name == "nesterov",
                         weight_decay=wd)
    if name == "adagrad":
        return optim.Adagrad(params, lr, weight_decay=wd)
    if name == "rmsprop":
        return optim.RMSprop(params, lr, weight_decay=wd)
    cls = optim.AdamW if name == "adamw" else optim.Adam
    return cls(params, lr, weight_decay=wd)


class Trainer:
    """steps() yields one record per training step: {'step', 'epoch', 'loss', ...}; reproducible from the seed."""

    def __init__(self, config, dtype=np.float32, initial=None):
        """initial: a SavedModel (engine/saved.py) to train on from its weights and input normalisation instead of
        a fresh network (its architecture must be the config's: saved.check_continuation)."""
        self.config = c = validate_config(config)
        init_seed, dropout_seed, shuffle_seed, shift_seed = np.random.SeedSequence(c["seed"]).spawn(4)
        self.task = make_task(c, dtype, initial.normalization if initial is not None else None)
        self.model = build_model(c, self.task.in_shape, self.task.out_features, np.random.default_rng(init_seed),
                                 np.random.default_rng(dropout_seed), dtype)
        if initial is not None:
            self.model.load_state_dict(initial.state_dict())
        self.optimizer = make_optimizer(c, self.model.parameters())
        # an incomplete last batch is dropped (a batch of one breaks batch norm and skews the epoch's figures),
        # unless it is the only batch: a training set smaller than batch_size is one batch
        n_train = len(self.task.x_train)
        self.loader = DataLoader(self.task.x_train, self.task.y_train, c["batch_size"], shuffle=True,
                                 drop_last=n_train >= c["batch_size"], seed=shuffle_seed)
        # augmentation (MNIST): each training batch's images moved by a few pixels, drawn afresh every time
        self.augment = (RandomShift(c["shift"], self.task.in_shape, fill=self.task.blank,
                                    generator=np.random.default_rng(shift_seed)) if c.get("shift") else None)
        self.steps_per_epoch = len(self.loader)
        self.total_steps = self.steps_per_epoch * c["epochs"]
        self.base_lr = c["lr"]
        self.step = 0
        self.layers = weight_layers(self.model)
        # cosine: lr = base (1 + cos(pi t / T)) / 2 after t steps (the scheduler steps after each optimizer step)
        self.scheduler = (optim.lr_scheduler.CosineAnnealingLR(self.optimizer, self.total_steps)
                          if c["lr_schedule"] == "cosine" else None)
        # the model as the trainer runs it: the same layers, with a stop check between each two, so a stop takes
        # effect within a layer's time, not a step's (a large step takes seconds); self.model stays as built
        self.stop_requested = False
        # (none between a ReLU and the max pool after it: Sequential runs that pair as one pass)
        layers, net = list(self.model), []
        for i, layer in enumerate(layers):
            if i and not (type(layers[i - 1]) is nn.ReLU and isinstance(layer, nn.MaxPool2d)):
                net.append(_StopCheck(self))
            net.append(layer)
        self.net = nn.Sequential(*net)

    def check(self):
        """Raise Interrupted if a stop was asked (between two layers of a step or an evaluation)."""
        if self.stop_requested:
            raise Interrupted(f"stopped at step {self.step + 1}")

    # --- control ------------------------------------------------------------------------------
    def set_lr(self, lr):
        """Change the base learning rate from the next step on (the schedule, if any, scales it)."""
        if self.scheduler is None:
            self.optimizer.lr = lr
        else:  # the schedule's rate for the new base; its recursive formula carries it on from there
            self.optimizer.lr = self.optimizer.lr * (lr / self.base_lr)
            self.scheduler.base_lrs = [lr] * len(self.optimizer.param_groups)
        self.base_lr = lr

    # --- training -----------------------------------------------------------------------------
    def steps(self):
        """Generator of per-step records; raises Diverged when the loss is not finite."""
        task, model, opt, criterion = self.task, self.net, self.optimizer, self.task.criterion
        every = self.config.get("eval_every")
        correct = seen = 0
        loss_sum = 0.0
        for epoch in range(self.config["epochs"]):
            for xb, yb in self.loader:
                if self.augment is not None:
                    xb = self.augment(xb)
                opt.zero_grad()
                out = model(xb)
                loss = criterion(out, yb)
                if not math.isfinite(loss):
                    raise Diverged(f"training diverged at step {self.step + 1}: the loss became {loss}. "
                                   f"Try a lower learning rate (it was {opt.lr:g}).")
                model.backward(criterion.backward())
                opt.step()
                self.step += 1
                rec = {"step": self.step, "epoch": self.step / self.steps_per_epoch, "loss": loss, "lr": opt.lr}
                if self.scheduler is not None:
                    self.scheduler.step()
                if task.classifier:
                    correct += int(np.sum(out.argmax(axis=1) == yb))
                    seen += len(yb)
                    loss_sum += loss * len(yb)
                try:
                    if every is None:  # small data sets: validation at every step
                        rec["val_loss"], rec["val_acc"], _ = task.evaluate(model, task.x_val, task.y_val)
                    else:
                        end_of_epoch = self.step % self.steps_per_epoch == 0
                        if self.step % every == 0 or end_of_epoch:
                            rec["eval"] = self._mnist_eval(end_of_epoch, correct, seen, loss_sum)
                            correct = seen = 0
                            loss_sum = 0.0
                except Interrupted:  # stopped during the step's evaluation: the step itself is done and kept
                    yield rec
                    return
                yield rec

    def _mnist_eval(self, full, correct, seen, loss_sum):
        task = self.task
        idx = np.arange(len(task.x_val)) if full else task.subset
        loss, acc, out = task.evaluate(self.net, task.x_val[idx], task.y_val[idx])
        return {"step": self.step, "epoch": self.step / self.steps_per_epoch, "val_loss": loss, "val_acc": acc,
                "train_loss": loss_sum / seen if seen else None, "train_acc": correct / seen if seen else None,
                "split": "full" if full else "subset", "outputs": out, "indices": idx}

    # --- pictures and metrics -------------------------------------------------------------------
    def norms(self):
        """Per weight layer: L2 norms of the last gradient and of the weights."""
        return {"step": self.step, "names": [n for n, _ in self.layers],
                "grad": [float(np.linalg.norm(m.weight.grad)) for _, m in self.layers],
                "weight": [float(np.linalg.norm(m.weight.data)) for _, m in self.layers]}

    def final_metrics(self, seconds):
        """Loss (and accuracy) on train and validation, and on test for MNIST, in eval mode."""
        task = self.task
        out = {"steps": self.step, "seconds": seconds}
        sets = [("train", task.x_train, task.y_train), ("val", task.x_val, task.y_val)]
        if hasattr(task, "x_test"):
            sets.append(("test", task.x_test, task.y_test))
        for name, x, y in sets:
            loss, acc, _ = task.evaluate(self.net, x, y)
            out[f"{name}_loss"] = loss
            if acc is not None:
                out[f"{name}_acc"] = acc
        return out
