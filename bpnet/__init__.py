"""bpnet: neural networks in plain numpy with a PyTorch-style API, built to show backpropagation."""
from ._state import get_default_dtype, manual_seed, set_default_dtype
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from . import nn, optim, data

__version__ = "0.1.0"
__all__ = ["nn", "optim", "data", "load", "set_default_dtype", "get_default_dtype", "manual_seed",
           "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "__version__"]


def load(path):
    """A model saved by the dashboard's Download model or `bpnet train --save-model` (a path or the file's bytes),
    ready to use: `bpnet.load("fit.npz").predict([[0.5]])` gives the outputs the job gave (see
    bpnet.engine.saved.SavedModel); a file that cannot be used raises ModelFileError (a ValueError) saying why."""
    from .engine.saved import read
    return read(path)
