"""Optimisers with PyTorch's defaults, update equations and state."""
from .adagrad import Adagrad
from ._fused import warm_up
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "warm_up"]
