"""Build the network a config describes: an MLP, or a small CNN for MNIST, with the chosen init."""
import numpy as np

from .. import nn

__all__ = ["architecture", "build_model", "weight_layers", "ACTIVATION_MODULES"]

ACTIVATION_MODULES = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def _init(layer, name, generator):
    """Apply a named init to a Linear/Conv2d weight; every init but 'default' zeroes the bias."""
    if name == "default":
        return
    if name == "zeros":
        nn.init.zeros_(layer.weight)
    elif name.startswith("xavier"):
        getattr(nn.init, name + "_")(layer.weight, generator=generator)
    elif name.startswith("he"):
        fn = nn.init.kaiming_uniform_ if name == "he_uniform" else nn.init.kaiming_normal_
        fn(layer.weight, nonlinearity="relu", generator=generator)
    else:
        raise ValueError(f"unknown init {name!r}")
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def architecture(config, in_shape, out_features):
    """The layers a config describes, in order, as (kind, input shape, output shape) per sample: the one place
    the network's shape is decided (build_model builds it, engine/budget.py sizes it). Kinds: conv (3x3,
    padding 1), pool (max 2x2), flatten, linear, norm (batch norm), act, dropout."""
    layers, shape = [], tuple(in_shape)

    def add(kind, out):
        nonlocal shape
        layers.append((kind, shape, tuple(out)))
        shape = tuple(out)

    def block(width_shape, dropout):  # after a weight layer: [batch norm], activation, [dropout]
        if config["batch_norm"]:
            add("norm", width_shape)
        add("act", width_shape)
        if dropout:
            add("dropout", width_shape)

    if config.get("model") == "cnn":
        for out_ch in config["conv_channels"]:
            c, h, w = shape
            add("conv", (out_ch, h, w))
            block(shape, False)
            add("pool", (out_ch, h // 2, w // 2))
        add("flatten", (int(np.prod(shape)),))
        if config["dropout"] > 0:
            add("dropout", shape)
    elif len(shape) > 1:
        add("flatten", (int(np.prod(shape)),))
    for units in config["hidden"]:
        add("linear", (units,))
        block(shape, config["dropout"] > 0)
    add("linear", (out_features,))
    return layers


def build_model(config, in_shape, out_features, generator, dropout_generator=None, dtype=np.float32):
    """nn.Sequential for the config; in_shape is (features,) or (C, H, W); weights drawn from `generator`."""
    dropout_generator = dropout_generator or generator
    layers = []
    for kind, inp, out in architecture(config, in_shape, out_features):
        if kind in ("conv", "linear"):
            layer = (nn.Conv2d(inp[0], out[0], 3, padding=1, bias=not config["batch_norm"], dtype=dtype,
                               generator=generator) if kind == "conv" else
                     nn.Linear(inp[0], out[0], dtype=dtype, generator=generator))
            _init(layer, config["init"], generator)
        elif kind == "norm":
            layer = (nn.BatchNorm2d if len(out) == 3 else nn.BatchNorm1d)(out[0], dtype=dtype)
        elif kind == "act":
            layer = ACTIVATION_MODULES[config["activation"]]()
        elif kind == "dropout":
            layer = nn.Dropout(config["dropout"], generator=dropout_generator)
        elif kind == "pool":
            layer = nn.MaxPool2d(2)
        else:
            layer = nn.Flatten()
        layers.append(layer)
    model = nn.Sequential(*layers)
    first = next(m for m in model if isinstance(m, (nn.Linear, nn.Conv2d)))
    first.needs_input_grad = False  # the data needs no gradient: spare the largest product of the backward pass
    return model


def weight_layers(model):
    """(name, layer) for each Linear/Conv2d, named like 'Linear 1' for display."""
    out = []
    for _, m in model.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            out.append((f"{type(m).__name__} {len(out) + 1}", m))
    return out
