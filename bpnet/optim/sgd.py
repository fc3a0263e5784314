"""Stochastic gradient descent with optional (Nesterov) momentum and L2 weight decay, as torch.optim.SGD."""
from .optimizer import Optimizer, check_range

__all__ = ["SGD"]


class SGD(Optimizer):
    """g = grad + wd p;  b = mu b + (1 - dampening) g (b = g at its first step);  p -= lr (g + mu b if nesterov
    else b). State: 'momentum_buffer' (with momentum only)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _check(self, group):
        super()._check(group)
        for name in ("momentum", "dampening", "weight_decay"):
            check_range(name, group[name])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")

    def _update(self, data, g, state, group):
        mu, wd = group["momentum"], group["weight_decay"]
        if group["maximize"]:
            g = -g
        if wd:
            g = g + wd * data
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:  # PyTorch starts the buffer at the first gradient, undamped
                state["momentum_buffer"] = buf = g.copy()
            else:
                buf *= mu
                buf += (1 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        data -= group["lr"] * g
