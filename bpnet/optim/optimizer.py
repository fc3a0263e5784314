"""Optimizer base, as torch.optim.Optimizer: param_groups, per-parameter state in PyTorch's format, zero_grad(),
step(), state_dict() / load_state_dict() (a torch optimizer's state_dict loads here, and ours into torch)."""
import numbers
from collections import defaultdict

import numpy as np

from ..nn.parameter import Parameter
from ._flat import FlatGroup

__all__ = ["Optimizer", "check_range", "lazy_zeros"]

# flags of torch's optimizers that choose an implementation, not the result: accepted, kept, and unused here
IMPLEMENTATION_FLAGS = ("foreach", "fused")


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


def lazy_zeros(state, name, like):
    """state[name], made zeros like `like` if missing (a hyper-parameter turned on after the first step)."""
    if name not in state:
        state[name] = np.zeros_like(like)
    return state[name]


def _layout(state):
    """What parameters must share to be updated as one flat buffer: the same state keys and scalars."""
    if state is None:
        return None
    return tuple(sorted((k, isinstance(v, np.ndarray) or v) for k, v in state.items()))


class Optimizer:
    """Subclasses pass their defaults (hyper-parameters) and define `_check(group)` (validate a param group),
    `_init_state(data, group)` (a new state: dict of arrays like data, and scalars) and the readable update
    `_update(data, grad, state, group)`, in place on flat arrays.

    Each param group's trainable parameters (`requires_grad`) live in one contiguous buffer per dtype: each
    `p.data` and `p.grad` becomes a view of it (values kept), so that step() is a few operations over whole
    buffers; take references to `p.data` after making the optimizer. A parameter rebound later is copied back
    in at the next step. A frozen parameter is left alone and keeps its state for when it is unfrozen.
    """

    _eager_state = False  # True: every parameter has its state before the first step

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        self.param_groups = []
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group, _regroup=False)
        self._regroup({})
        if self._eager_state:  # as torch's Adagrad: state from the start
            for bucket in self._buckets:
                bucket.state = self._init_state(bucket.data, self.param_groups[bucket.group_index])

    def add_param_group(self, param_group, _regroup=True):
        """Add a dict {'params': [...], hyper-parameter: value, ...}; missing hyper-parameters take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a param group must be a dict, got {type(param_group).__name__}")
        params = param_group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise TypeError(f"optimizer expects bpnet.nn.Parameter objects, got {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError("optimizer got the same parameter twice")
        group = {**self.defaults, **param_group, "params": params}
        self._check_flags(group)
        self._check(group)
        states = self._param_states() if _regroup else {}
        self.param_groups.append(group)
        if _regroup:
            self._regroup(states)

    def _check_flags(self, group):
        for flag in ("differentiable", "capturable"):
            if group.get(flag):
                raise ValueError(f"{flag}=True is not supported by bpnet's {type(self).__name__}")

    def _check(self, group):
        check_range("learning rate", group["lr"])

    # --- flat buffers -------------------------------------------------------------------------
    @property
    def _params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def _signature(self):
        """What the flat buffers were built for: the parameters, and which of them train."""
        return [(p, p.requires_grad) for p in self._all]

    def _param_states(self):
        """{id(p): state} for every parameter that has one (views of the flat state, or kept aside)."""
        states = {id(p): state for p, state in getattr(self, "_parked", {}).items()}
        for bucket in getattr(self, "_buckets", []):
            for i, state in zip(bucket.indices, bucket.param_states()):
                if state is not None:
                    states[id(bucket.params[i])] = state
        return states

    def _regroup(self, states):
        """(Re)build the flat buffers: the trainable parameters of each group, by dtype and state layout."""
        params, buckets, self._parked = self._params, [], {}
        self._all = params
        index = {id(p): i for i, p in enumerate(params)}
        for gi, group in enumerate(self.param_groups):
            together = {}
            for p in group["params"]:
                state = states.get(id(p))
                if p.requires_grad:
                    together.setdefault((p.dtype, _layout(state)), []).append(index[id(p)])
                elif state is not None:
                    self._parked[p] = {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else v
                                           for k, v in state.items()}
            for (_, layout), indices in together.items():
                member_states = None if layout is None else [states[id(params[i])] for i in indices]
                buckets.append(FlatGroup(params, indices, gi, member_states))
        self._buckets, self._built_for = buckets, self._signature()

    # --- state --------------------------------------------------------------------------------
    @property
    def state(self):
        """{Parameter: its state}, as torch's optimizer.state (a defaultdict: {} for a parameter without state);
        the arrays are views of what step() updates."""
        by_id = self._param_states()
        return defaultdict(dict, ((p, by_id[id(p)]) for p in self._params if by_id.get(id(p))))

    def state_dict(self):
        """{'state': {index: {name: value}}, 'param_groups': [{hyper-parameters..., 'params': [indices]}]} in
        PyTorch's format (arrays for its tensors, floats for 'step'); copies."""
        index = {id(p): i for i, p in enumerate(self._params)}
        state = {index[id(p)]: {k: np.array(v, copy=True) if isinstance(v, np.ndarray) else float(v)
                                for k, v in s.items()} for p, s in self.state.items()}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take hyper-parameters and state from state_dict() (ours or a torch optimizer's, tensors included)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state dict has {len(groups)} param groups, this optimizer "
                             f"{len(self.param_groups)}")
        saved_index = {}
        for saved, group in zip(groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError("a param group of the state dict does not match the size of this optimizer's")
            saved_index.update(zip(saved["params"], group["params"]))
        new_groups = []
        for saved, group in zip(groups, self.param_groups):
            new = {**group, **{k: v for k, v in saved.items() if k != "params"}, "params": group["params"]}
            if "betas" in new:
                new["betas"] = tuple(new["betas"])
            self._check_flags(new)
            self._check(new)
            new_groups.append(new)
        states = {}
        for key, saved in state_dict["state"].items():
            p = saved_index.get(key if not isinstance(key, str) else int(key))
            if p is None:
                raise ValueError(f"the state dict has state for parameter {key}, which is not in its param groups")
            states[id(p)] = self._loaded_state(saved, p)
        self.param_groups = new_groups
        self._regroup(states)

    def _loaded_state(self, saved, p):
        state = {}
        for name, value in saved.items():
            if value is None:  # e.g. torch's SGD momentum_buffer before its first step
                continue
            array = np.array(np.asarray(value), dtype=p.dtype)  # a copy (of an array, or of a torch tensor)
            if array.ndim == 0 and name == "step":
                state[name] = float(array)
            elif array.shape != p.shape:
                raise ValueError(f"state {name!r} has shape {array.shape}, its parameter {p.shape}")
            else:
                state[name] = array
        return state

    # --- steps --------------------------------------------------------------------------------
    @property
    def lr(self):
        """The first param group's learning rate; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        value = check_range("learning rate", value)
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none=True):
        """Every gradient = 0 (bpnet's gradients are always arrays: set_to_none=True zeroes them too)."""
        for p in self._all:
            p.zero_grad()

    def step(self, closure=None):
        """Apply one update to every trainable parameter from its current .grad; closure() (forward and
        backward) is called first if given, and its result returned, as in PyTorch."""
        loss = closure() if closure is not None else None
        if self._signature() != self._built_for:  # a parameter frozen or unfrozen since
            self._regroup(self._param_states())
        for bucket in self._buckets:
            bucket.check()
            group = self.param_groups[bucket.group_index]
            if bucket.state is None:
                bucket.state = self._init_state(bucket.data, group)
            self._update(bucket.data, bucket.grad, bucket.state, group)
        return loss

    def _init_state(self, data, group):
        return {}

    def _update(self, data, grad, state, group):
        raise NotImplementedError

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])
