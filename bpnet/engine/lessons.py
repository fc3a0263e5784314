"""The lessons shipped with the app: a few paragraphs each, setups to run (links that fill a page's form), and
one question to notice. tests/test_lessons.py runs every setup and checks it shows what its lesson says.

A setup is (label, page, settings as typed in the form); ``hide`` names settings that would only distract.
"""

__all__ = ["LESSONS", "get"]

_PLAIN = "init,dropout,batch_norm,weight_decay,lr_schedule"  # hidden where the lesson is about something else

LESSONS = [
    {"slug": "fitting", "title": "Fitting and underfitting: 2 units or 32",
     "summary": "Why a network that is too small cannot fit, however long it trains.",
     "paragraphs": [
         "A network with one hidden layer draws its curve by adding up the S-shaped curves of its hidden units "
         "(tanh here), each scaled and shifted: every unit can add about one bend. With 2 units the network can "
         "make two bends, whatever training does; sin(2x) has four on this range. Training finds the best curve "
         "the network can draw, and no better.",
         "Run the first setup: the loss falls, then flattens far above zero, and the training and validation "
         "losses stay together. That is underfitting: the model is too simple for the data, and more epochs do "
         "not help. Then run the second, the same with 32 units: its curve follows the target and its loss falls "
         "a thousand times lower.",
         "Underfitting shows as a training loss that is high and flat, with the validation loss beside it. The cure "
         "is capacity (more units or layers), not more training. The verdict at the end of each run says which "
         "it was."],
     "setups": [("2 hidden units", "function", {"formula": "sin(2*x)", "hidden": "2", "hide": _PLAIN}),
                ("32 hidden units", "function", {"formula": "sin(2*x)", "hidden": "32", "hide": _PLAIN})],
     "question": "How many bends does the 2-unit network's curve make, and where does it give up on the target?"},

    {"slug": "overfitting", "title": "Overfitting, and what dropout and weight decay do",
     "summary": "Few noisy points, a big network: it learns the noise. Two ways to hold it back.",
     "paragraphs": [
         "With few noisy points a large network can do more than follow the trend: it can pass through every "
         "training point, noise included. Its training loss keeps falling while the validation loss, measured on "
         "points it never trains on, turns upwards. That turn is overfitting: from there on the network learns "
         "the noise of its 20 points, not the function.",
         "Run the first setup (20 training points with noise 0.4, two layers of 128 units) and watch the two loss "
         "curves part, and the curve bend to reach each point. Then run it with dropout 0.3, which switches each "
         "hidden unit off at random on every step so that no unit can rely on a few others, and with weight decay "
         "0.01, which shrinks every weight a little at each step and so favours smooth curves.",
         "Both trade a higher training loss for a lower validation loss. Neither adds information: more data "
         "helps most, and stopping where the validation loss is lowest (early stopping) helps too."],
     "setups": [(label, "function", {"n_samples": "40", "val_fraction": "0.5", "noise": "0.4", "hidden": "128,128",
                                     "batch_size": "20", "epochs": "2000", "lr": "0.0003", **extra,
                                     "hide": "init,batch_norm,lr_schedule,momentum"})
                for label, extra in (("No regularisation", {}), ("Dropout 0.3", {"dropout": "0.3"}),
                                     ("Weight decay 0.01", {"weight_decay": "0.01"}))],
     "question": "Where does the validation loss start to rise, and what does the curve do to the training points "
                 "from then on?"},

    {"slug": "learning-rate", "title": "A learning rate too high, too low",
     "summary": "Overshooting into divergence, or crawling: the size of each step.",
     "paragraphs": [
         "The learning rate is the size of each step down the loss surface: every weight moves by the learning "
         "rate times its gradient. Plain SGD shows it best, as nothing adapts the step for it.",
         "Try the three setups. With 1, the steps overshoot the valley, each landing higher than the last; within a "
         "few steps the numbers overflow and the run stops: it diverged. With 0.001 the steps are so small that "
         "after 300 epochs the network still draws little more than a straight line. With 0.1 it fits in seconds.",
         "A good rate is usually found by trying powers of ten: the largest that does not diverge, or a little "
         "lower. You can also change it during a run (“Learning rate now”) and watch the loss react."],
     "setups": [(f"Learning rate {lr}", "function", {"optimizer": "sgd", "lr": lr, "epochs": "300", "hide": _PLAIN})
                for lr in ("1", "0.001", "0.1")],
     "question": "With 0.001, is the loss still falling at the end, or stuck on a plateau? What does the verdict "
                 "suggest?"},

    {"slug": "momentum", "title": "Momentum",
     "summary": "Steps that remember the last ones: the same learning rate, much further.",
     "paragraphs": [
         "SGD with momentum keeps a running sum of past gradients, a velocity, and steps along it: "
         "v = μ v + g, then w = w − lr v. Where the gradients keep pointing the same way the steps grow, up to "
         "1 / (1 − μ) = 10 times for μ = 0.9; where they flip back and forth they cancel out.",
         "Run plain SGD with a learning rate of 0.01, then the same with momentum 0.9. Both take the same 1,500 "
         "steps at the same rate; momentum gets much further.",
         "That is why the optimisers used in practice (SGD with momentum, Adam) carry a memory of earlier steps."],
     "setups": [("Plain SGD", "function", {"optimizer": "sgd", "lr": "0.01", "epochs": "300", "hide": _PLAIN}),
                ("SGD with momentum 0.9", "function", {"optimizer": "momentum", "lr": "0.01", "momentum": "0.9",
                                                       "epochs": "300", "hide": _PLAIN})],
     "question": "How much lower is the final validation loss with momentum, after the same number of steps?"},

    {"slug": "normalisation", "title": "Input normalisation",
     "summary": "Inputs from 0 to 100 saturate the units and stall SGD; standardised, they train.",
     "paragraphs": [
         "Here x runs from 0 to 100. A tanh unit computes tanh(w x + b): with inputs that large most units are "
         "pushed to the flat ends of the tanh, where the gradient is almost zero, and one learning rate must suit "
         "weights that see inputs of 100 and biases that see 1.",
         "Run the first setup, raw inputs and SGD with momentum: the loss barely moves, or jumps about. Then the "
         "same with “Normalise inputs” on: x is standardised to mean 0 and standard deviation 1 with the training "
         "set's mean and spread, and the same network fits the curve.",
         "Standardising the inputs is one of the cheapest fixes there is (batch norm does the same inside the "
         "network). Adam hides much of the problem by adapting each weight's step: try the raw inputs with Adam."],
     "setups": [(label, "function", {"formula": "sin(x/10)", "x_min": "0", "x_max": "100", "optimizer": "momentum",
                                     "lr": "0.01", "epochs": "300", "normalize_inputs": on, "hide": _PLAIN})
                for label, on in (("Raw inputs", "false"), ("Normalised inputs", "true"))],
     "question": "How close does the raw-input network get to the target, and which part of the curve does it miss?"},

    {"slug": "vanishing-gradients", "title": "Vanishing gradients: sigmoid or ReLU",
     "summary": "The two-sphere net: why the first layers of a sigmoid network barely learn.",
     "paragraphs": [
         "Backpropagation carries the error back layer by layer, multiplying it by each layer's weights and by the "
         "derivative of its activation. A sigmoid's derivative is at most 0.25, so the signal shrinks at every "
         "sigmoid layer it passes, often by an order of magnitude.",
         "The setup is the two-sphere net: points from two 3-D Gaussian clouds (the plot shows their first two "
         "features), a network with 3 inputs and three small sigmoid layers of 3, 3 and 2 units, plain SGD. Watch "
         "the gradient norms: the first layer's is tens of times smaller than the last's, the first layers "
         "hardly change, and the network stays at chance. Then run the same net with ReLU, whose derivative is 1 "
         "wherever a unit is active.",
         "Deep networks became trainable with ReLU-like activations, careful initialisation and batch norm, which "
         "all keep the backward signal from fading."],
     "setups": [(f"{name} network", "classification",
                 {"dataset": "spheres", "activation": act, "hidden": "3,3,2", "optimizer": "sgd", "lr": "0.1",
                  "epochs": "100", "hide": "init,dropout,batch_norm,weight_decay"})
                for name, act in (("Sigmoid", "sigmoid"), ("ReLU", "relu"))],
     "question": "What happens to the first layer's gradients with sigmoid, compared with ReLU?"},

    {"slug": "batch-norm", "title": "Batch normalisation",
     "summary": "Standardise every layer's inputs: the stalled sigmoid net learns.",
     "paragraphs": [
         "Batch norm standardises each unit's input over the minibatch (mean 0, standard deviation 1), then "
         "scales and shifts it by two numbers the network learns. Every layer then sees inputs of a steady size, "
         "whatever the layers before it do, and the units stay away from the flat ends of the sigmoid.",
         "Run the two-sphere sigmoid network of the vanishing gradients lesson again, without and then with batch "
         "norm: the same three small sigmoid layers and the same SGD now learn. Compare their gradient norms.",
         "At evaluation batch norm uses averages collected during training instead of the batch's own statistics, "
         "so a point gets the same answer whichever batch it comes in."],
     "setups": [(label, "classification", {"dataset": "spheres", "activation": "sigmoid", "hidden": "3,3,2",
                                           "optimizer": "sgd", "lr": "0.1", "epochs": "100", "batch_norm": on,
                                           "hide": "init,dropout,weight_decay"})
                for label, on in (("Without batch norm", "false"), ("With batch norm", "true"))],
     "question": "How far apart are the first and last layers' gradient norms with batch norm, and without?"},

    {"slug": "initialisation", "title": "Weight initialisation: zeros, Xavier, He",
     "summary": "Why weights start random, and how large.",
     "paragraphs": [
         "With every weight at zero, every hidden unit computes the same thing and gets the same update, so they "
         "stay alike for ever; with tanh it is worse still: the hidden outputs are all 0 and no gradient reaches "
         "the hidden weights at all. The network can only learn a constant. Random initial weights break the "
         "symmetry.",
         "How random matters too. Xavier (Glorot) initialisation scales the weights by the layer's numbers of "
         "inputs and outputs so that signals keep their size through tanh or sigmoid layers; He (Kaiming) "
         "initialisation makes them larger by √2, to make up for ReLU zeroing half of its inputs.",
         "Run the three setups: zeros, Xavier with tanh, and He with ReLU. With zeros the loss stays where a "
         "constant prediction puts it (the verdict says: not learning), and the gradient norms of the hidden "
         "layers stay at zero; the other two fit the curve within a few hundred steps."],
     "setups": [(label, "function", {"formula": "sin(3*x)", "epochs": "500", "init": init, **extra,
                                     "hide": "dropout,batch_norm,weight_decay,lr_schedule"})
                for label, init, extra in (("Zeros", "zeros", {}), ("Xavier, tanh", "xavier_uniform", {}),
                                           ("He, ReLU", "he_normal", {"activation": "relu"}))],
     "question": "With zeros, what does the network's curve look like, and does it ever change shape?"},

    {"slug": "confusion-matrix", "title": "Reading a confusion matrix",
     "summary": "Not just how often a classifier is wrong, but how.",
     "paragraphs": [
         "A confusion matrix counts, for every true class (a row), how often the network predicted each class (a "
         "column). The diagonal holds the right answers; every other cell is one kind of mistake.",
         "Run the setup: a small network learns MNIST digits from 5,000 images for 3 epochs. When it is done, find "
         "the darkest cell off the diagonal: the mistake it makes most. Each row is shaded by its own share, so a "
         "pale diagonal cell is a digit it reads badly.",
         "Mistakes are rarely random: 4 and 9, 3 and 5, 7 and 9 share strokes. Draw a digit halfway between two of "
         "them on the pad and watch the probabilities split."],
     "setups": [("A small MNIST network", "mnist", {"n_samples": "5000", "hidden": "64", "epochs": "3",
                                                    "eval_every": "10", "hide": "init,dropout,batch_norm,weight_decay,"
                                                    "lr_schedule,conv_channels,shift"})],
     "question": "Which digit is mistaken most often, and for which? Would you have confused them?"},
]

_BY_SLUG = {lesson["slug"]: lesson for lesson in LESSONS}


def get(slug):
    """The lesson called `slug`, or None."""
    return _BY_SLUG.get(slug) if isinstance(slug, str) else None
