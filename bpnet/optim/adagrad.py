"""Adagrad, as torch.optim.Adagrad."""
import numpy as np

from .optimizer import Optimizer, check_range

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """s += g^2;  p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(s) + eps). State: 'step', 'sum' (from the start,
    as in PyTorch)."""

    _eager_state = True

    def __init__(self, params, lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def _check(self, group):
        super()._check(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_range(name, group[name])

    def _init_state(self, data, group):
        return {"step": 0.0, "sum": np.full_like(data, group["initial_accumulator_value"])}

    def _update(self, data, g, state, group):
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"]:
            g = g + group["weight_decay"] * data
        state["sum"] += g * g
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        data -= clr * g / (np.sqrt(state["sum"]) + group["eps"])
