"""RMSprop, as torch.optim.RMSprop."""
import numpy as np

from .optimizer import Optimizer, check_range, lazy_zeros

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """v = a v + (1-a) g^2;  d = sqrt(v [- gbar^2 if centered, clamped at 0]) + eps;  p -= lr g / d (through a
    momentum buffer if mu > 0). State: 'step', 'square_avg', 'momentum_buffer', 'grad_avg' (as they apply)."""

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _check(self, group):
        super()._check(group)
        check_range("alpha", group["alpha"], high=1.0, high_open=False)
        for name in ("eps", "weight_decay", "momentum"):
            check_range(name, group[name])

    def _init_state(self, data, group):
        names = ["square_avg"] + ["momentum_buffer"] * bool(group["momentum"]) + ["grad_avg"] * group["centered"]
        return {"step": 0.0, **{name: np.zeros_like(data) for name in names}}

    def _update(self, data, g, state, group):
        state["step"] += 1
        alpha, mu = group["alpha"], group["momentum"]
        if group["maximize"]:
            g = -g
        if group["weight_decay"]:
            g = g + group["weight_decay"] * data
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            gbar = lazy_zeros(state, "grad_avg", data)
            gbar *= alpha
            gbar += (1 - alpha) * g
            # v - gbar^2 >= 0 in exact arithmetic; rounding can make it negative (then sqrt is NaN): clamp at 0
            denom = np.sqrt(np.maximum(v - gbar * gbar, 0)) + group["eps"]
        else:
            denom = np.sqrt(v) + group["eps"]
        if mu:
            buf = lazy_zeros(state, "momentum_buffer", data)
            buf *= mu
            buf += g / denom
            data -= group["lr"] * buf
        else:
            data -= group["lr"] * g / denom
