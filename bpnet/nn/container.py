"""Containers: Sequential (modules applied in order, backward in reverse) and ModuleList (a registered list)."""
import operator
from collections import OrderedDict

from .activation import ReLU
from .module import Module
from .pooling import MaxPool2d

__all__ = ["Sequential", "ModuleList"]


def _check_module(module, container):
    if not isinstance(module, Module):
        raise TypeError(f"{container} takes Modules, got {type(module).__name__}")
    return module


class _IndexedModules(Module):
    """Children named '0', '1', ... and indexed like a list."""

    def _index(self, i):
        n = len(self._modules)
        i = operator.index(i)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {type(self).__name__} of length {n}")
        return i % n

    def _renumber(self, modules):
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def append(self, module):
        self.add_module(str(len(self._modules)), _check_module(module, type(self).__name__))
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        mods = list(self._modules.values())
        mods.insert(index, _check_module(module, type(self).__name__))
        self._renumber(mods)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._sliced(list(self._modules.items())[i])
        return list(self._modules.values())[self._index(i)]

    def __setitem__(self, i, module):
        setattr(self, list(self._modules)[self._index(i)], _check_module(module, type(self).__name__))

    def __delitem__(self, i):
        mods = list(self._modules.values())
        del mods[i if isinstance(i, slice) else self._index(i)]
        self._renumber(mods)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_IndexedModules):
    """Modules applied in order; backward runs them in reverse. Sequential(m1, m2, ...) or
    Sequential(OrderedDict(name=module, ...)) as in PyTorch; a module may appear more than once."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, _check_module(m, "Sequential"))
        else:
            for m in modules:
                self.append(m)

    @staticmethod
    def _sliced(items):
        return Sequential(OrderedDict(items))

    def forward(self, x):
        """Each module in turn; a ReLU followed by a 2x2 MaxPool2d (neither hooked) runs as one pass of the pool
        (MaxPool2d.forward_after_relu: the same numbers), its backward then the gradient of both."""
        modules, fused, i = list(self._modules.values()), [], 0
        while i < len(modules):
            if i + 1 < len(modules) and _relu_then_pool(modules[i], modules[i + 1]):
                x = modules[i + 1](x, after_relu=True)
                fused.append(i + 1)
                i += 2
            else:
                x = modules[i](x)
                i += 1
        self.save_for_backward(frozenset(fused))
        return x

    def backward(self, grad_output):
        modules = list(self._modules.values())
        fused = self.saved_tensors[0] if self.__dict__.get("_saved") else frozenset()
        k = len(modules) - 1
        while k >= 0:
            m = modules[k]
            grad_output = m.backward(grad_output)
            if grad_output is None:
                if m.needs_input_grad:
                    raise TypeError(f"{type(m).__name__}.backward returned None: a backward must return the "
                                    "gradient with respect to its input (set needs_input_grad = False on a "
                                    "first layer to stop there)")
                break  # a layer with needs_input_grad = False: nothing flows further back
            k -= 2 if k in fused else 1  # (a fused pool's gradient is its ReLU's too)
        return grad_output


def _relu_then_pool(first, second):
    """True when Sequential runs the pair as one fused pool: a plain ReLU, then a MaxPool2d that can fuse it,
    neither with hooks (a hook sees each module's own output)."""
    return (type(first) is ReLU and type(second) is MaxPool2d and second.fuses_relu()
            and not (first._forward_hooks or first._backward_hooks or second._forward_hooks
                     or second._backward_hooks))


class ModuleList(_IndexedModules):
    """A list of modules whose parameters the parent registers (no forward: iterate over it in yours)."""

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    @staticmethod
    def _sliced(items):
        return ModuleList(m for _, m in items)

    def __iadd__(self, modules):
        return self.extend(modules)

    def forward(self, *args):
        raise NotImplementedError("ModuleList has no forward: call its modules in your own forward")
