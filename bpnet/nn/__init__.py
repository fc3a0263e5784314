"""Layers, activations, losses and initialisers with PyTorch's names; each layer has forward and backward."""
from . import init, utils
from .activation import ELU, Identity, LeakyReLU, ReLU, Sigmoid, SiLU, Softplus, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .container import ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten
from .gelu import GELU
from .hooks import RemovableHandle
from .layernorm import LayerNorm
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, StateDictError
from .parameter import Parameter
from .pooling import AvgPool2d, MaxPool2d
from .softmax import LogSoftmax, Softmax

__all__ = [
    "init", "utils", "Module", "Parameter", "StateDictError", "RemovableHandle", "Sequential", "ModuleList",
    "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Identity",
    "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
]
