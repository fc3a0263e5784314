"""Containers: Sequential (modules applied in order, backward in reverse) and ModuleList (a registered list)."""
import operator
from collections import OrderedDict

from .module import Module

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
        for m in self._modules.values():
            x = m(x)
        return x

    def backward(self, grad_output):
        for m in reversed(self._modules.values()):
            grad_output = m.backward(grad_output)
            if grad_output is None:
                if m.needs_input_grad:
                    raise TypeError(f"{type(m).__name__}.backward returned None: a backward must return the "
                                    "gradient with respect to its input (set needs_input_grad = False on a "
                                    "first layer to stop there)")
                break  # a layer with needs_input_grad = False: nothing flows further back
        return grad_output


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
