"""Build the network a config describes: an MLP, or a small CNN for MNIST, with the chosen init."""
import numpy as np

from .. import nn

__all__ = ["build_model", "weight_layers", "ACTIVATION_MODULES"]

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


def _block(layers, config, width, norm, dropout_generator):
    """Append [batch norm], activation, [dropout] after a weight layer of `width` outputs."""
    if config["batch_norm"]:
        layers.append(norm(width))
    layers.append(ACTIVATION_MODULES[config["activation"]]())
    if config["dropout"] > 0:
        layers.append(nn.Dropout(config["dropout"], generator=dropout_generator))


def build_model(config, in_shape, out_features, generator, dropout_generator=None, dtype=np.float32):
    """nn.Sequential for the config; in_shape is (features,) or (C, H, W); weights drawn from `generator`."""
    layers, dropout_generator = [], dropout_generator or generator
    if config.get("model") == "cnn":
        channels, (h, w) = in_shape[0], in_shape[1:]
        for out_ch in config["conv_channels"]:
            conv = nn.Conv2d(channels, out_ch, 3, padding=1, bias=not config["batch_norm"], dtype=dtype,
                             generator=generator)
            _init(conv, config["init"], generator)
            layers.append(conv)
            _block(layers, dict(config, dropout=0.0), out_ch, lambda c: nn.BatchNorm2d(c, dtype=dtype), None)
            layers.append(nn.MaxPool2d(2))
            channels, h, w = out_ch, h // 2, w // 2
        layers.append(nn.Flatten())
        if config["dropout"] > 0:
            layers.append(nn.Dropout(config["dropout"], generator=dropout_generator))
        width, hidden = channels * h * w, config["hidden"]
    else:
        width, hidden = int(np.prod(in_shape)), config["hidden"]
        if len(in_shape) > 1:
            layers.append(nn.Flatten())
    for units in hidden:
        linear = nn.Linear(width, units, dtype=dtype, generator=generator)
        _init(linear, config["init"], generator)
        layers.append(linear)
        _block(layers, config, units, lambda c: nn.BatchNorm1d(c, dtype=dtype), dropout_generator)
        width = units
    head = nn.Linear(width, out_features, dtype=dtype, generator=generator)
    _init(head, config["init"], generator)
    layers.append(head)
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
