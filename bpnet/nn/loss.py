"""Losses: `loss = criterion(prediction, target)` is a float; `criterion.backward()` is d loss / d prediction.

Every loss takes reduction='mean' (default), 'sum' or 'none' (then the loss is an array of per-element, or
per-sample, losses and backward(grad_output) takes an array of that shape). Each forward computes its
losses and their gradient together; backward returns a new array each call.
"""
import numpy as np

from .activation import sigmoid
from .module import Module
from .softmax import log_softmax

__all__ = ["MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]

_REDUCTIONS = ("mean", "sum", "none")
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's floor for p (1 - p) in BCELoss's gradient: 1e-12 as a float32


def _squeezed(shape):
    return tuple(d for d in shape if d != 1)


def _matching(prediction, target, name):
    """The target in the prediction's shape: the same shape, or the same values but for size-1 axes (a column
    (N, 1) against labels (N,), which PyTorch would broadcast to (N, N)); anything else raises."""
    target = np.asarray(target, dtype=prediction.dtype)
    if target.shape != prediction.shape:
        if target.size != prediction.size or _squeezed(target.shape) != _squeezed(prediction.shape):
            raise ValueError(f"{name}: prediction {prediction.shape} and target {target.shape} have different "
                             "shapes; give the target the prediction's shape")
        target = target.reshape(prediction.shape)
    return target


class _Loss(Module):
    _forward_inputs = 2  # (prediction, target): a backward hook's grad_input is (d prediction, None)
    _keeps_inputs = False  # forward computes the gradient: no private copies of the inputs needed

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, losses, grad, count=None):
        """The reduced loss from per-element `losses` and grad = d sum(losses) / d prediction; 'mean' divides
        both by `count` (default: the number of losses). Keeps the gradient for backward."""
        if self.reduction == "none":
            self.save_for_backward(grad, losses.shape)
            return losses
        total = losses.sum()
        if self.reduction == "mean":
            count = float(losses.size if count is None else count)  # (a numpy scalar would promote to float64)
            if count:
                total = total / count
                grad /= count  # (every loss hands _reduce a fresh gradient array)
            else:  # nothing to average over: a NaN loss, as in PyTorch (and zero gradients)
                total = np.nan
        self.save_for_backward(grad, None)
        return float(total)

    def backward(self, grad_output=1.0):
        """d loss / d prediction, scaled by grad_output (1 by default; per loss element for reduction='none')."""
        grad, shape = self.saved_tensors
        if shape is not None:
            grad_output = np.broadcast_to(np.asarray(grad_output, dtype=grad.dtype), shape)
            grad_output = grad_output.reshape(shape + (1,) * (grad.ndim - len(shape)))
        return grad * grad_output

    def extra_repr(self):
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


class MSELoss(_Loss):
    """(prediction - target)^2 per element; d/dprediction = 2 (prediction - target)."""

    def forward(self, prediction, target):
        prediction = np.asarray(prediction)
        diff = prediction - _matching(prediction, target, "MSELoss")
        return self._reduce(diff * diff, 2.0 * diff)


class L1Loss(_Loss):
    """|prediction - target| per element; d/dprediction = sign(prediction - target) (0 where equal)."""

    def forward(self, prediction, target):
        prediction = np.asarray(prediction)
        diff = prediction - _matching(prediction, target, "L1Loss")
        return self._reduce(np.abs(diff), np.sign(diff))


class _Weighted(_Loss):
    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else np.asarray(weight, dtype=np.float64))


class BCELoss(_Weighted):
    """-w (t log p + (1 - t) log(1 - p)) per element, the logs clamped at -100 as in PyTorch;
    d/dp = w (p - t) / max(p (1 - p), ~1e-12)."""

    def forward(self, prediction, target):
        p = np.asarray(prediction)
        if p.size and not (np.min(p) >= 0 and np.max(p) <= 1):
            raise ValueError("BCELoss: all elements of the prediction should be between 0 and 1 "
                             "(for logits use BCEWithLogitsLoss)")
        if np.shape(target) != p.shape:
            raise ValueError(f"BCELoss: target {np.shape(target)} and prediction {p.shape} must have the same shape")
        t = np.asarray(target, dtype=p.dtype)
        with np.errstate(divide="ignore"):
            losses = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
        grad = (p - t) / np.maximum(p * (1 - p), _BCE_EPS)
        if self.weight is not None:
            losses, grad = losses * self.weight, grad * self.weight
        return self._reduce(losses.astype(p.dtype, copy=False), grad.astype(p.dtype, copy=False))


class BCEWithLogitsLoss(_Weighted):
    """Sigmoid and binary cross-entropy in one, stable for any logit x:
    (1 - t) x - (1 + (pw - 1) t) log s(x), with log s(x) = -(max(-x, 0) + log(1 + exp(-|x|)));
    d/dx = s(x) (1 + (pw - 1) t) - pw t, i.e. s(x) - t without pos_weight."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None else np.asarray(pos_weight, dtype=np.float64))

    def forward(self, logits, target):
        x = np.asarray(logits)
        if np.shape(target) != x.shape:
            raise ValueError(f"BCEWithLogitsLoss: target {np.shape(target)} and logits {x.shape} must have the "
                             "same shape")
        t = np.asarray(target, dtype=x.dtype)
        log_sigmoid = -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))
        pw = 1.0 if self.pos_weight is None else self.pos_weight
        log_weight = 1 + (pw - 1) * t
        losses = (1 - t) * x - log_weight * log_sigmoid
        grad = sigmoid(x) * log_weight - pw * t
        if self.weight is not None:
            losses, grad = losses * self.weight, grad * self.weight
        return self._reduce(losses.astype(x.dtype, copy=False), grad.astype(x.dtype, copy=False))


def _class_labels(target, n, c, ignore_index, name):
    """Integer labels (n,) in [0, c), or ignore_index: (labels with the ignored ones at 0, mask of the labels
    kept, or None when none is ignored)."""
    target = np.asarray(target)
    if target.shape != (n,) or target.dtype.kind not in "iu":
        raise ValueError(f"{name}: class labels must be integers of shape ({n},), got {target.dtype} {target.shape}")
    if not n:
        return target, None
    lo, hi = target.min(), target.max()
    kept = None if not lo <= ignore_index <= hi else target != ignore_index
    valid = target if kept is None else target[kept]
    if valid.size and (valid.min() < 0 or valid.max() >= c):
        raise ValueError(f"{name}: class labels must be in [0, {c - 1}] (or ignore_index={ignore_index}), got "
                         f"[{valid.min()}, {valid.max()}]")
    return (target, None) if kept is None else (np.where(kept, target, 0), kept)


class CrossEntropyLoss(_Weighted):
    """Logits (N, C) with labels (N,) or probabilities (N, C): -sum_c a_c log softmax(x)_c per sample, where the
    coefficients a are w_y (1 - eps) at the label plus w_c eps / C everywhere (label smoothing eps, class
    weights w), or w_c ((1 - eps) t_c + eps / C) for probabilities; an ignored label has a = 0.
    Fused: d/dx = softmax(x) sum_c a_c - a, never through log(softmax). 'mean' divides by the sum of w_y over
    the labels kept (by N for probabilities), as PyTorch does."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0 and 1, got {label_smoothing}")
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)

    def forward(self, logits, target):
        logits = np.asarray(logits)
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expects logits (N, C), got shape {logits.shape}")
        n, c = logits.shape
        logp = log_softmax(logits)
        p = np.exp(logp)
        target = np.asarray(target)
        if target.ndim == 1:
            return self._labels(logp, p, target)
        if target.shape != logits.shape:
            raise ValueError(f"target must be labels ({n},) or probabilities {logits.shape}, got {target.shape}")
        w = 1.0 if self.weight is None else self.weight
        eps = self.label_smoothing
        coef = (w * ((1 - eps) * target + eps / c)).astype(logits.dtype, copy=False)
        losses = -(coef * logp).sum(axis=1)
        return self._reduce(losses, p * coef.sum(axis=1, keepdims=True) - coef, n)

    def _labels(self, logp, p, target):
        """The coefficients a kept sparse: (1 - eps) w_y at each label, and eps / C w_c when smoothing."""
        (n, c), eps = logp.shape, self.label_smoothing
        labels, kept = _class_labels(target, n, c, self.ignore_index, "CrossEntropyLoss")
        rows = np.arange(n)
        if kept is None and self.weight is None and not eps:  # the plain case: a is one-hot
            p[rows, labels] -= 1
            return self._reduce(-logp[rows, labels], p, n)
        kept = np.ones(n, bool) if kept is None else kept
        w_y = kept if self.weight is None else self.weight[labels] * kept  # 0 for an ignored label
        a = ((1 - eps) * w_y).astype(logp.dtype)
        losses = -a * logp[rows, labels]
        grad = p * a[:, None]
        grad[rows, labels] -= a  # softmax - one-hot, weighted
        if eps:
            w = np.ones(c) if self.weight is None else self.weight
            smooth = ((eps / c) * np.outer(kept, w)).astype(logp.dtype)
            losses -= (smooth * logp).sum(axis=1)
            grad += p * smooth.sum(axis=1, keepdims=True) - smooth
        return self._reduce(losses, grad, w_y.sum())


class NLLLoss(_Weighted):
    """Log-probabilities (N, C) (e.g. from LogSoftmax) and labels (N,): -w_y x_y per sample, 0 if ignored;
    d/dx is -w_y at the label; 'mean' divides by the sum of w_y over the labels kept."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, log_probs, target):
        x = np.asarray(log_probs)
        if x.ndim != 2:
            raise ValueError(f"NLLLoss expects log-probabilities (N, C), got shape {x.shape}")
        n, c = x.shape
        labels, kept = _class_labels(target, n, c, self.ignore_index, "NLLLoss")
        kept = np.ones(n, bool) if kept is None else kept
        w = (np.ones(c) if self.weight is None else self.weight)[labels] * kept
        rows = np.arange(n)
        grad = np.zeros_like(x)
        grad[rows, labels] = -w
        return self._reduce((-w * x[rows, labels]).astype(x.dtype, copy=False), grad, w.sum())
