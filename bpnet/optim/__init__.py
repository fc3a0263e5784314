"""Optimisers and learning-rate schedulers with PyTorch's defaults, update equations and state."""
from . import lr_scheduler
from .adagrad import Adagrad
from ._fused import warm_up
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler", "warm_up"]
