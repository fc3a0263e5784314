"""Adam and AdamW, as torch.optim.Adam / AdamW, updating every array in place."""
import math

import numpy as np

from ._fused import adam_kernel
from .optimizer import Optimizer, check_range

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).

    Adam adds weight_decay * p to the gradient (L2); AdamW instead shrinks p by lr * weight_decay (decoupled).
    """

    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair, got {betas!r}")
        self.betas = (check_range("beta1", betas[0], high=1.0), check_range("beta2", betas[1], high=1.0))
        self.eps = check_range("eps", eps)
        self.weight_decay = check_range("weight_decay", weight_decay)

    def _init_state(self, data):
        # m and v hold PyTorch's exp_avg / (1 - beta1) and exp_avg_sq / (1 - beta2): the same algebra in ten
        # numpy passes over the arrays instead of twelve, or one pass of the compiled loop in _fused.py
        return {"m": np.zeros_like(data), "v": np.zeros_like(data)}

    def _update(self, data, g, state):
        m, v = state["m"], state["v"]
        b1, b2 = self.betas
        # p -= lr/bc1 * (c1 m) / (sqrt(c2 v / bc2) + eps)  with c = 1 - beta, bc = 1 - beta^t, i.e.
        # p -= (lr c1 k / bc1) * m / (sqrt(v) + eps k)  with k = sqrt(bc2 / c2)
        c1, c2 = 1 - b1, 1 - b2
        k = math.sqrt((1 - b2 ** self.steps) / c2)
        step, eps = self.lr * c1 * k / (1 - b1 ** self.steps), self.eps * k
        decay = self.weight_decay
        shrink = 1 - self.lr * decay if self.decoupled else 1.0
        kernel = adam_kernel()
        if kernel is not None:  # the same operations in one pass (see _fused.py)
            f = data.dtype.type
            l2 = bool(decay) and not self.decoupled
            kernel(data, g, m, v, f(b1), f(b2), f(step), f(eps), f(decay), f(shrink), l2)
            return
        tmp = state.setdefault("scratch", np.empty_like(data))  # numpy's passes need a work array
        if decay and self.decoupled:
            data *= shrink
        elif decay:
            g = g + decay * data
        m *= b1  # m = b1 m + g
        m += g
        v *= b2  # v = b2 v + g^2
        np.multiply(g, g, out=tmp)
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= step
        data -= tmp

    def hyperparameters(self):
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step."""

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)
