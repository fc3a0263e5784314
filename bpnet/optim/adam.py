"""Adam and AdamW, as torch.optim.Adam / AdamW, on PyTorch's state, updating every array in place."""
import math

import numpy as np

from ._fused import adam_kernel
from .optimizer import Optimizer, check_range, lazy_zeros

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2 [amsgrad: vmax = max(vmax, v), used for v];
    p -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).

    weight_decay adds wd * p to the gradient (L2), or with decoupled_weight_decay=True (AdamW) shrinks p by
    lr * wd first. State, as PyTorch's: 'step', 'exp_avg' (m), 'exp_avg_sq' (v), 'max_exp_avg_sq' (amsgrad).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check(self, group):
        super()._check(group)
        if len(group["betas"]) != 2:
            raise ValueError(f"betas must be a pair, got {group['betas']!r}")
        check_range("beta1", group["betas"][0], high=1.0)
        check_range("beta2", group["betas"][1], high=1.0)
        check_range("eps", group["eps"])
        check_range("weight_decay", group["weight_decay"])

    def _init_state(self, data, group):
        state = {"step": 0.0, "exp_avg": np.zeros_like(data), "exp_avg_sq": np.zeros_like(data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(data)
        return state

    def _update(self, data, g, state, group):
        """PyTorch's Adam on PyTorch's state, with the bias corrections folded into the step size and eps
        (Kingma & Ba 2015, end of section 2): lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps) is
        (lr sqrt(bc2) / bc1) * m / (sqrt(v) + eps sqrt(bc2)), one division per element instead of two. The
        compiled loop (_fused.py) does the same operations in the same order in one pass: bitwise these."""
        (b1, b2), lr, eps, wd = group["betas"], group["lr"], group["eps"], group["weight_decay"]
        state["step"] += 1
        t = state["step"]
        bc2_sqrt = math.sqrt(1 - b2 ** t)
        step_size, eps_hat = lr * bc2_sqrt / (1 - b1 ** t), eps * bc2_sqrt
        decoupled, amsgrad = group["decoupled_weight_decay"], group["amsgrad"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        v_used = lazy_zeros(state, "max_exp_avg_sq", data) if amsgrad else v  # vmax with amsgrad
        kernel = adam_kernel()
        if kernel is not None:
            f = data.dtype.type
            shrink = 1 - lr * wd if decoupled else 1.0
            kernel(data, g, m, v, v_used, f(1 - b1), f(b2), f(1 - b2), f(step_size), f(eps_hat), f(wd), f(shrink),
                   bool(wd) and not decoupled, bool(amsgrad), bool(group["maximize"]))
            return
        if group["maximize"]:
            g = -g
        if wd and decoupled:
            data *= 1 - lr * wd  # AdamW: p *= 1 - lr wd
        elif wd:
            g = g + wd * data  # L2: g += wd p
        m += (1 - b1) * (g - m)  # m = b1 m + (1 - b1) g, as torch's lerp computes it
        v *= b2  # v = b2 v + (1 - b2) g^2, with (1 - b2) g first so that g^2 cannot overflow
        v += (1 - b2) * g * g
        if amsgrad:
            np.maximum(v_used, v, out=v_used)
        data -= step_size * (m / (np.sqrt(v_used) + eps_hat))


class AdamW(Adam):
    """Adam with decoupled weight decay: p *= 1 - lr * weight_decay before the Adam step (default 0.01)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
