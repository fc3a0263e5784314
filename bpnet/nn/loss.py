"""Losses: `loss = criterion(prediction, target)` is a float; `criterion.backward()` is d loss / d prediction."""
import numpy as np

from .module import Module

__all__ = ["MSELoss", "CrossEntropyLoss", "log_softmax"]


def log_softmax(logits):
    """log softmax over the last axis via log-sum-exp, finite for any finite logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class _Loss(Module):
    def backward(self, grad_output=1.0):
        """d loss / d prediction, scaled by grad_output (1 by default)."""
        grad = self._cached("_grad")
        return grad if np.isscalar(grad_output) and grad_output == 1.0 else grad * grad_output


class MSELoss(_Loss):
    """mean((prediction - target)^2) over all elements."""

    def forward(self, prediction, target):
        prediction = np.asarray(prediction)
        target = np.asarray(target, dtype=prediction.dtype)
        if target.shape != prediction.shape:
            if target.size != prediction.size:
                raise ValueError(f"MSELoss: prediction {prediction.shape} and target {target.shape} differ in size")
            target = target.reshape(prediction.shape)
        diff = prediction - target
        self._grad = diff * (2.0 / diff.size)
        return float(np.mean(diff * diff))


class CrossEntropyLoss(_Loss):
    """Logits (N, C) with labels (N,) or probabilities (N, C) -> mean over the batch of -log softmax[target].

    Fused: the gradient is (softmax(logits) * sum(target) - target) / N, never log(softmax).
    """

    def forward(self, logits, target):
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expects logits (N, C), got shape {logits.shape}")
        n, c = logits.shape
        logp = log_softmax(logits)
        target = np.asarray(target)
        if target.ndim == 1:
            if target.shape[0] != n or not np.issubdtype(target.dtype, np.integer):
                raise ValueError(f"class labels must be integers of shape ({n},), got {target.dtype} {target.shape}")
            if n and (target.min() < 0 or target.max() >= c):
                raise ValueError(f"class labels must be in [0, {c - 1}], got [{target.min()}, {target.max()}]")
            rows = np.arange(n)
            loss = -logp[rows, target].sum() / n
            grad = np.exp(logp)
            grad[rows, target] -= 1.0
        elif target.shape == logits.shape:
            target = target.astype(logits.dtype, copy=False)
            loss = -(target * logp).sum() / n
            grad = np.exp(logp) * target.sum(axis=1, keepdims=True) - target
        else:
            raise ValueError(f"target must be labels ({n},) or probabilities {logits.shape}, got {target.shape}")
        grad /= n
        self._grad = grad
        return float(loss)
