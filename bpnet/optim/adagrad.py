"""Adagrad, as torch.optim.Adagrad."""
import numpy as np

from .optimizer import Optimizer, check_range

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """s += g^2;  p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
        super().__init__(params, lr)
        self.lr_decay = check_range("lr_decay", lr_decay)
        self.weight_decay = check_range("weight_decay", weight_decay)
        self.initial_accumulator_value = check_range("initial_accumulator_value", initial_accumulator_value)
        self.eps = check_range("eps", eps)

    def _init_state(self, data):
        return {"sum": np.full_like(data, self.initial_accumulator_value)}

    def _update(self, data, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * data
        state["sum"] += g * g
        clr = self.lr / (1 + (self.steps - 1) * self.lr_decay)
        data -= clr * g / (np.sqrt(state["sum"]) + self.eps)

    def hyperparameters(self):
        return {"lr": self.lr, "eps": self.eps, "weight_decay": self.weight_decay}
