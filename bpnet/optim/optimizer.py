"""Optimizer base: a parameter list, per-parameter state aligned with it, zero_grad() and step()."""
import numbers

from ..nn.module import Parameter
from ._parallel import parallel_spans

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


def _flat(a):
    """A 1-D view of a C-contiguous array (never a copy)."""
    if not a.flags.c_contiguous:
        raise ValueError("optimizer needs C-contiguous parameter, gradient and state arrays")
    return a.reshape(-1)


class Optimizer:
    """Subclasses define _init_state(p) -> dict of arrays and an elementwise _update(data, grad, state).

    `self.state[i]` belongs to `self.params[i]`. step() applies _update to 1-D spans of the arrays, spread
    over the cores for large models; the result is identical to one call per whole parameter.
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
        self.state = [{} for _ in self.params]
        self.steps = 0

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = check_range("learning rate", value)

    def zero_grad(self):
        for p in self.params:
            p.grad.fill(0)

    def step(self):
        """Apply one update to every parameter from its current .grad."""
        self.steps += 1
        flats = []
        for p, state in zip(self.params, self.state):
            if not state:
                state.update(self._init_state(p))
            flats.append((_flat(p.data), _flat(p.grad), {k: _flat(v) for k, v in state.items()}))

        def work(i, lo, hi):
            data, grad, state = flats[i]
            self._update(data[lo:hi], grad[lo:hi], {k: v[lo:hi] for k, v in state.items()})

        parallel_spans([p.data.size for p in self.params], work)

    def _init_state(self, p):
        return {}

    def _update(self, data, grad, state):
        raise NotImplementedError

    def hyperparameters(self):
        return {"lr": self.lr}

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({hp})"
