"""Module: the base every layer, loss and container builds on (registration, forward/backward, hooks, state)."""
from collections import OrderedDict
from types import MappingProxyType

import numpy as np

from .. import grad_mode
from .calls import backward_step, forward_scope, private_copies
from .hooks import RemovableHandle, call_forward_hooks
from .parameter import Parameter

__all__ = ["Module", "Parameter", "StateDictError"]

_NO_HOOKS = MappingProxyType({})  # shared, immutable and empty: registering a hook makes the module its own dict


class StateDictError(KeyError):
    """A state_dict that does not fit the module: missing, unexpected or wrongly shaped keys."""

    def __str__(self):
        return str(self.args[0])


class Module:
    """Base class: forward(x) keeps what backward(grad_output) needs (save_for_backward); backward adds into
    each Parameter.grad and returns the input gradient.

    Set `needs_input_grad = False` on a network's first layer to skip the gradient with respect to the data
    (like an input tensor without requires_grad in PyTorch): its backward then returns None.
    """

    needs_input_grad = True
    _forward_inputs = 1  # positional inputs of forward that grad_input has an entry for (losses: 2)
    _keeps_inputs = True  # False: backward never reads an input array (a loss keeps only its gradient)
    _forward_hooks = _backward_hooks = _NO_HOOKS

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        backward = cls.__dict__.get("backward")
        if callable(backward) and not getattr(backward, "_bpnet_backward_step", False):
            cls.backward = backward_step(backward)

    # --- registration -------------------------------------------------------------------------
    def __setattr__(self, name, value):
        state = self.__dict__
        if "_parameters" not in state:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        params, buffers, modules = state["_parameters"], state["_buffers"], state["_modules"]
        # re-registering in the same registry keeps the name's position, as in PyTorch
        if isinstance(value, Parameter):
            buffers.pop(name, None), modules.pop(name, None)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(nn.Parameter or None expected): write into it in place "
                                f"(module.{name}.data[...] = value) or assign nn.Parameter(value)")
            params[name] = None
        elif isinstance(value, Module):
            params.pop(name, None), buffers.pop(name, None)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(numpy.ndarray or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def __getattr__(self, name):
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __delattr__(self, name):
        """`del module.bias` unregisters it too: it leaves parameters() and state_dict()."""
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self.__dict__.pop(name, None)
                return
        object.__delattr__(self, name)

    def _check_new_name(self, name, registry):
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"a {registry} name must be a non-empty string without '.', got {name!r}")
        if name in self.__dict__ and name not in getattr(self, f"_{registry}s"):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Add a Parameter (or None: a declared slot, e.g. the bias of Linear(bias=False))."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' as parameter '{name}' "
                            "(nn.Parameter or None expected)")
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name, array):
        """A state array that is saved in state_dict but not trained (e.g. running_mean)."""
        self._check_new_name(name, "buffer")
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(f"cannot assign '{type(array).__name__}' as buffer '{name}' "
                            "(numpy.ndarray or None expected)")
        self.__dict__.pop(name, None)
        self._buffers[name] = array

    def add_module(self, name, module):
        """Add a child module (or None) under `name`, as `self.name = module` does."""
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # --- computation ----------------------------------------------------------------------------
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, *args, **kwargs):
        """forward(*args), then the forward hooks. The outermost call works on private copies of its array
        arguments (while gradients are on) and starts a new forward: what each module keeps for backward."""
        fwd, enabled = forward_scope, grad_mode._mode.enabled
        if not fwd.depth:
            fwd.begin()
            if enabled and self._keeps_inputs:
                args = private_copies(args)
        if not enabled and self.__dict__.get("_saved_used"):
            self.__dict__["_stale"] = True  # this forward keeps nothing; the values kept were used already
        fwd.depth += 1
        try:
            output = self.forward(*args, **kwargs)
        finally:
            fwd.depth -= 1
        if self._forward_hooks:
            output = call_forward_hooks(self, args, output)
        return output

    def save_for_backward(self, *values):
        """Keep `values` (arrays, shapes, flags) for backward; nothing under bpnet.no_grad().

        One entry per call within the current outermost forward, so a module called twice keeps both; a new
        outermost forward starts afresh, so repeated forwards (evaluation) never accumulate.
        """
        if not grad_mode._mode.enabled:
            return
        state = self.__dict__
        call = forward_scope.call if forward_scope.depth else None  # forward() called directly: its own forward
        saved = state.get("_saved")
        if call is not None and saved is not None and state["_saved_call"] == call:  # called again in this forward
            saved.append(values)
            state["_saved_next"] = state["_saved_use"] = len(saved) - 1
            return
        state["_saved"], state["_saved_call"] = [values], call
        state["_saved_next"] = state["_saved_use"] = 0
        if state.get("_saved_used"):
            state["_saved_used"] = state["_stale"] = False

    @property
    def saved_tensors(self):
        """In backward: the values save_for_backward kept for the call being differentiated."""
        saved = self.__dict__.get("_saved")
        if not saved:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward "
                               "(or after a forward under bpnet.no_grad(), which keeps nothing for backward)")
        return saved[self.__dict__["_saved_use"]]

    def register_forward_hook(self, hook):
        """hook(module, input: tuple, output) after every forward call; a non-None return replaces the output."""
        return self._add_hook("_forward_hooks", hook)

    def register_full_backward_hook(self, hook):
        """hook(module, grad_input: tuple, grad_output: tuple) after every backward call; a non-None return
        (a tuple) replaces grad_input. grad_input is (None,) for a layer with needs_input_grad = False."""
        return self._add_hook("_backward_hooks", hook)

    def _add_hook(self, kind, hook):
        if not callable(hook):
            raise TypeError(f"a hook must be callable, got {type(hook).__name__}")
        hooks = self.__dict__.get(kind)
        if hooks is None:
            hooks = OrderedDict()
            object.__setattr__(self, kind, hooks)
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    # --- traversal ------------------------------------------------------------------------------
    def named_children(self):
        """(name, child) for each direct child, each module once."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        return (child for _, child in self.named_children())

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every descendant; a module used twice once (its first name),
        as in PyTorch."""
        if remove_duplicate:
            memo = set() if memo is None else memo
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        return (m for _, m in self.named_modules())

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, member in getattr(module, registry).items():
                if member is None or (remove_duplicate and id(member) in seen):
                    continue
                seen.add(id(member))
                yield (f"{mod_name}.{name}" if mod_name else name), member

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs, as in PyTorch: '0.weight', '2.bias', ...; a shared Parameter once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        return [p for _, p in self.named_parameters(recurse=recurse)]

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        return [b for _, b in self.named_buffers(recurse=recurse)]

    def apply(self, fn):
        """fn(module) for every descendant, children first, then this module (e.g. to initialise weights)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter: frozen ones get no gradient and no update."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Every parameter's grad = 0 (bpnet's gradients are always arrays: set_to_none=True zeroes them too)."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        if not isinstance(mode, (bool, np.bool_)):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # --- persistence ----------------------------------------------------------------------------
    def state_dict(self):
        """Copies of every parameter and buffer, keyed by dotted name (a module used twice under both names)."""
        return OrderedDict((name, np.array(arr, copy=True)) for name, arr in self._named_state())

    def _named_state(self):
        """(dotted name, array) for every parameter and buffer, module by module, as PyTorch orders them."""
        for mod_name, module in self.named_modules(remove_duplicate=False):
            prefix = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield prefix + name, p.data
            for name, b in module._buffers.items():
                if b is not None:
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
