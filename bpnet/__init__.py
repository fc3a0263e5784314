"""bpnet: neural networks in plain numpy with a PyTorch-style API, built to show backpropagation."""
from ._state import get_default_dtype, manual_seed, set_default_dtype
from . import nn, optim, data

__version__ = "0.1.0"
__all__ = ["nn", "optim", "data", "set_default_dtype", "get_default_dtype", "manual_seed", "__version__"]
