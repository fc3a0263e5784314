"""RMSprop, as torch.optim.RMSprop."""
import numpy as np

from .optimizer import Optimizer, check_range

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """v = a v + (1-a) g^2;  d = sqrt(v [- gbar^2 if centered]) + eps;  p -= lr g / d (through a momentum buffer if mu > 0)."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr)
        self.alpha = check_range("alpha", alpha, high=1.0, high_open=False)
        self.eps = check_range("eps", eps)
        self.weight_decay = check_range("weight_decay", weight_decay)
        self.momentum = check_range("momentum", momentum)
        self.centered = bool(centered)

    def _init_state(self, data):
        names = ["square_avg"] + ["momentum_buffer"] * bool(self.momentum) + ["grad_avg"] * self.centered
        return {name: np.zeros_like(data) for name in names}

    def _update(self, data, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * data
        v = state["square_avg"]
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        if self.centered:
            gbar = state["grad_avg"]
            gbar *= self.alpha
            gbar += (1 - self.alpha) * g
            denom = np.sqrt(v - gbar * gbar) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / denom
            data -= self.lr * buf
        else:
            data -= self.lr * g / denom

    def hyperparameters(self):
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "momentum": self.momentum}
