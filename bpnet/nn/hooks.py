"""Forward and backward hooks, with PyTorch's signatures: the one way to look inside a network as it runs.

    handle = module.register_forward_hook(lambda module, input, output: ...)
    handle = module.register_full_backward_hook(lambda module, grad_input, grad_output: ...)
    handle.remove()

`input`, `grad_input` and `grad_output` are tuples; the arrays are the very ones the network computed and
passes on (copy them to keep them: the network does not change them, but the next step makes new ones). A
forward hook that returns a value replaces the output; a backward hook that returns a tuple replaces
grad_input. Hooks fire for every call of a module, so a module used twice in one forward fires twice.
"""
import itertools
import weakref

__all__ = ["RemovableHandle", "call_forward_hooks", "call_backward_hooks"]

_ids = itertools.count()


class RemovableHandle:
    """Returned by register_*_hook: remove() unregisters the hook (also on leaving a `with` block)."""

    def __init__(self, hooks):
        self._hooks = weakref.ref(hooks)
        self.id = next(_ids)

    def remove(self):
        hooks = self._hooks()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def call_forward_hooks(module, args, output):
    """Each hook(module, args, output) in registration order; a hook's non-None result becomes the output."""
    for hook in list(module._forward_hooks.values()):
        result = hook(module, args, output)
        if result is not None:
            output = result
    return output


def call_backward_hooks(module, grad_input, grad_output):
    """Each hook(module, grad_input, grad_output) in order; a non-None result (a tuple as long as grad_input)
    replaces grad_input. Returns grad_input as a tuple."""
    for hook in list(module._backward_hooks.values()):
        result = hook(module, grad_input, grad_output)
        if result is not None:
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != len(grad_input):
                raise ValueError(f"a backward hook of {type(module).__name__} returned {len(result)} gradients; "
                                 f"grad_input has {len(grad_input)}")
            grad_input = result
    return grad_input
