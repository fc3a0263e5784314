"""Layers, activations, losses and initialisers with PyTorch's names; each layer has forward and backward."""
from . import init
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module, Parameter, Sequential
from .pooling import MaxPool2d

__all__ = [
    "init", "Module", "Parameter", "Sequential", "Linear", "Conv2d", "MaxPool2d", "Flatten", "Dropout",
    "BatchNorm1d", "BatchNorm2d", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Identity",
    "MSELoss", "CrossEntropyLoss",
]
