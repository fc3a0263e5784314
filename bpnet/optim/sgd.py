"""Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay, as torch.optim.SGD."""
import numpy as np

from .optimizer import Optimizer, check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    """g = grad + wd p;  b = mu b + (1 - dampening) g (b = g at step 1);  p -= lr (g + mu b if nesterov else b)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum = check_range("momentum", momentum)
        self.dampening = check_range("dampening", dampening)
        self.weight_decay = check_range("weight_decay", weight_decay)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")
        self.nesterov = bool(nesterov)

    def _init_state(self, data):
        return {"momentum_buffer": np.zeros_like(data)} if self.momentum else {}

    def _update(self, data, g, state):
        if self.weight_decay:
            g = g + self.weight_decay * data
        if self.momentum:
            buf = state["momentum_buffer"]
            if self.steps == 1:  # PyTorch starts the buffer at the first gradient, undamped
                buf[...] = g
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            g = g + self.momentum * buf if self.nesterov else buf
        data -= self.lr * g

    def hyperparameters(self):
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}
