"""Parameter, Module and Sequential: the containers every layer builds on."""
from collections import OrderedDict

import numpy as np

from .._state import resolve_dtype

__all__ = ["Parameter", "Module", "Sequential", "StateDictError"]


class StateDictError(KeyError):
    """A state_dict that does not fit the module: missing, unexpected or wrongly shaped keys."""

    def __str__(self):
        return str(self.args[0])


class Parameter:
    """A trainable array `data` and its gradient `grad` (same shape, starts at zeros)."""

    def __init__(self, data, dtype=None):
        if dtype is None and isinstance(data, np.ndarray) and data.dtype in (np.float32, np.float64):
            dtype = data.dtype
        self.data = np.array(data, dtype=resolve_dtype(dtype), copy=True, order="C")
        self.grad = np.zeros_like(self.data)

    @property
    def grad(self):
        """d loss / d data, summed over the backward calls since zero_grad()."""
        if self._zero_pending:  # zero_grad() left the zeros to be written when they are first needed
            self._grad.fill(0)
            self._zero_pending = False
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad, self._zero_pending = value, False

    def zero_grad(self):
        """grad = 0 in place, written when grad is next read or replaced by a product (accumulate_matmul); an
        array taken from grad earlier keeps its old values until then (as PyTorch's set_to_none leaves it)."""
        self._zero_pending = True

    def accumulate_matmul(self, a, b):
        """grad += a @ b, reshaped to grad's shape: right after zero_grad() the product is written straight
        into grad (PyTorch likewise assigns the first gradient after zero_grad), saving a fill and a pass."""
        if self._zero_pending and self._grad.flags.c_contiguous:
            np.matmul(a, b, out=self._grad.reshape(a.shape[0], b.shape[1]))
            self._zero_pending = False
        else:
            self.grad += (a @ b).reshape(self._grad.shape)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype.name})"


class Module:
    """Base class: forward(x) caches what backward(grad_output) needs; backward returns the input gradient.

    Set `needs_input_grad = False` on a network's first layer to skip the gradient with respect to the data
    (like an input tensor without requires_grad in PyTorch): its backward then returns None.
    """

    needs_input_grad = True

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # --- registration -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        if name in self._buffers:
            self._buffers[name] = value
            return
        # drop the name from the other registry; re-registering in the same one keeps its position, as in PyTorch
        if not isinstance(value, Parameter):
            self._parameters.pop(name, None)
        if not isinstance(value, Module):
            self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, array):
        """A state array that is saved in state_dict but not trained (e.g. running_mean)."""
        self.__dict__.pop(name, None)
        self._buffers[name] = array

    def __getattr__(self, name):
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # --- computation ----------------------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _cached(self, name):
        """A value forward() stored for backward(), with a clear error when forward was not run."""
        value = self.__dict__.get(name)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value

    # --- traversal ------------------------------------------------------------------------------
    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) pairs, as in PyTorch: '0.weight', '2.bias', ...; a shared Parameter once."""
        seen = set()
        for mod_name, module in self.named_modules(prefix):
            for name, p in module._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        for mod_name, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                yield (f"{mod_name}.{name}" if mod_name else name), b

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # --- persistence ----------------------------------------------------------------------------
    def state_dict(self):
        """Copies of every parameter and buffer, keyed by dotted name."""
        return OrderedDict((name, np.array(arr, copy=True)) for name, arr in self._named_state())

    def _named_state(self):
        """(dotted name, array) for every parameter and buffer, module by module, as PyTorch orders them."""
        for mod_name, module in self.named_modules():
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                yield prefix + name, p.data
            for name, b in module._buffers.items():
                yield prefix + name, b

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters and buffers in place; mismatched keys or shapes raise."""
        targets = OrderedDict(self._named_state())
        keys = set(state_dict.keys()) if hasattr(state_dict, "keys") else set(state_dict.files)
        missing = [k for k in targets if k not in keys]
        unexpected = sorted(k for k in keys if k not in targets)
        errors = []
        if strict and missing:
            errors.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            errors.append("unexpected keys: " + ", ".join(unexpected))
        for name, target in targets.items():
            if name in keys:
                value = np.asarray(state_dict[name])
                if value.shape != target.shape:
                    errors.append(f"shape mismatch for {name}: expected {target.shape}, got {value.shape}")
        if errors:
            raise StateDictError(f"Error loading state_dict into {type(self).__name__}: " + "; ".join(errors))
        for name, target in targets.items():
            if name in keys:
                target[...] = np.asarray(state_dict[name])
        return self

    # --- display --------------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return head + "\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order; backward runs them in reverse."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            self.append(m, index=i)

    def append(self, module, index=None):
        if not isinstance(module, Module):
            raise TypeError(f"Sequential takes Modules, got {type(module).__name__}")
        setattr(self, str(len(self._modules) if index is None else index), module)
        return self

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output):
        for m in reversed(self._modules.values()):
            grad_output = m.backward(grad_output)
            if grad_output is None:  # a layer with needs_input_grad = False: nothing flows further back
                break
        return grad_output

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
