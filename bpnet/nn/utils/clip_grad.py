"""Gradient clipping in place, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_."""
import math

import numpy as np

from ..parameter import Parameter

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _trainable(parameters):
    """The parameters (one Parameter or an iterable of them) whose gradients count: frozen ones have none."""
    params = [parameters] if isinstance(parameters, Parameter) else list(parameters)
    for p in params:
        if not isinstance(p, Parameter):
            raise TypeError(f"expected bpnet.nn.Parameter objects, got {type(p).__name__}")
    return [p for p in params if p.requires_grad]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together by min(1, max_norm / (total_norm + 1e-6)), total_norm being the norm of
    the per-parameter norms (the norm of all gradients as one vector); returns total_norm (before clipping)."""
    params = _trainable(parameters)
    norm_type = float(norm_type)
    if not params:
        return 0.0
    norms = [np.linalg.norm(p.grad.ravel(), ord=norm_type) for p in params]
    total = float(np.linalg.norm(np.array(norms), ord=norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is non-finite ({total}), so "
                           "it cannot be clipped; set error_if_nonfinite=False to clip anyway")
    scale = min(float(max_norm) / (total + 1e-6), 1.0)
    for p in params:
        p.grad *= p.grad.dtype.type(scale)
    return total


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element to [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for p in _trainable(parameters):
        np.clip(p.grad, -clip_value, clip_value, out=p.grad)
