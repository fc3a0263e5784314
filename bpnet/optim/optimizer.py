"""Optimizer base: a parameter list, per-parameter state aligned with it, zero_grad() and step()."""
import numbers

from ..nn.module import Parameter
from ._flat import group_by_dtype

__all__ = ["Optimizer", "check_range"]


def check_range(name, value, low=0.0, high=None, low_open=False, high_open=True):
    """Raise ValueError unless value is a real number in the interval [low, high) (ends as requested)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
        raise ValueError(f"invalid {name}: {value!r} (expected a number)")
    too_low = value <= low if low_open else value < low
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        interval = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'}{')' if high_open else ']'}"
        raise ValueError(f"invalid {name}: {value} (must be in {interval})")
    return float(value)


class Optimizer:
    """Subclasses define _init_state(data) -> dict of arrays like data, and an elementwise
    _update(data, grad, state).

    The optimizer keeps its parameters' data and grad in one contiguous buffer per dtype (each `p.data` and
    `p.grad` becomes a view of it, values kept), so that step() is a few operations over whole buffers; take
    references to `p.data` after making the optimizer. A parameter rebound later is copied back in at the
    next step. `self.state[i]` belongs to `self.params[i]`.
    """

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for p in self.params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer expects bpnet.nn.Parameter objects, got {type(p).__name__}")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("optimizer got the same parameter twice")
        self.lr = lr
        self.steps = 0
        self._groups = group_by_dtype(self.params)

    @property
    def state(self):
        """Per-parameter state, aligned with self.params: dicts of views of the flat state arrays."""
        out = [{} for _ in self.params]
        for group in self._groups:
            for name, flat in (group.state or {}).items():
                for i, view in zip(group.indices, group.split(flat)):
                    out[i][name] = view
        return out

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_range("learning rate", value)

    def zero_grad(self):
        for p in self.params:
            p.zero_grad()

    def step(self):
        """Apply one update to every parameter from its current .grad."""
        self.steps += 1
        for group in self._groups:
            group.check()
            if group.state is None:
                group.state = self._init_state(group.data)
            self._update(group.data, group.grad, group.state)

    def _init_state(self, data):
        return {}

    def _update(self, data, grad, state):
        raise NotImplementedError

    def hyperparameters(self):
        return {"lr": self.lr}

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({hp})"
