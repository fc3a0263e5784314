"""RandomShift: every image of a batch moved by its own random offset, as torchvision's RandomCrop(padding=s)."""
import numpy as np
import pytest

from bpnet.data import RandomShift
from bpnet.engine.trainer import Trainer
from support import TINY_MNIST


def batch(n=64, shape=(1, 6, 7), seed=0):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def crop(image, s, top, left, fill):
    """The reference, one image at a time: pad by s with `fill`, take the H x W window at (top, left)."""
    h, w = image.shape[-2:]
    padded = np.pad(image, [(0, 0)] * (image.ndim - 2) + [(s, s), (s, s)], constant_values=fill)
    return padded[..., top:top + h, left:left + w]


def offsets(x, y, s, fill):
    """For each image, every (top, left) crop that gives its shifted version."""
    return [[(t, l) for t in range(2 * s + 1) for l in range(2 * s + 1)
             if np.array_equal(crop(a, s, t, l, fill), b)] for a, b in zip(x, y)]


@pytest.mark.parametrize("s", [1, 2])
def test_each_image_is_its_own_padded_crop_at_the_offsets_the_generator_draws(s):
    x = batch()
    y = RandomShift(s, x.shape[1:], fill=-0.5, generator=np.random.default_rng(3))(x)
    top, left = np.random.default_rng(3).integers(0, 2 * s + 1, size=(2, len(x)))
    assert y.shape == x.shape and y.dtype == x.dtype
    assert all(np.array_equal(y[i], crop(x[i], s, top[i], left[i], -0.5)) for i in range(len(x)))


def test_every_offset_occurs_and_a_new_one_is_drawn_at_every_call():
    x, shift = batch(400), RandomShift(1, (1, 6, 7), fill=0.0, generator=np.random.default_rng(0))
    first, second = offsets(x, shift(x), 1, 0.0), offsets(x, shift(x), 1, 0.0)
    assert all(len(o) == 1 for o in first + second)  # random pixels: exactly one offset explains each image
    assert {o[0] for o in first} == {(t, l) for t in range(3) for l in range(3)}
    assert first != second


def test_flattened_rows_are_shifted_as_the_images_they_are():
    x = batch(32, (1, 28, 28))
    images = RandomShift(2, (1, 28, 28), fill=1.0, generator=np.random.default_rng(5))(x)
    rows = RandomShift(2, (1, 28, 28), fill=1.0, generator=np.random.default_rng(5))(x.reshape(32, -1))
    assert rows.shape == (32, 784) and np.array_equal(rows.reshape(images.shape), images)


def test_no_shift_returns_a_copy_and_a_bad_shift_is_refused():
    x = batch(4)
    y = RandomShift(0, x.shape[1:])(x)
    assert np.array_equal(y, x) and y is not x
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_shift"):
            RandomShift(bad, (6, 7))


def test_an_mnist_run_trains_on_its_batches_shifted_with_blank_pixels_and_without_shift_on_them_as_they_are():
    def first_input(config):
        t, seen = Trainer(config), []
        t.net.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].copy()))
        next(t.steps())
        return t, seen[0]
    plain, raw = first_input(dict(TINY_MNIST, shift=0))  # the same seed: the same first batch
    shifted, moved = first_input(dict(TINY_MNIST, shift=1))
    rows = {img.tobytes() for img in plain.task.x_train}
    assert plain.augment is None and all(img.tobytes() in rows for img in raw)  # training images as they are
    blank = shifted.task.blank
    assert blank == float(shifted.task.x_train.min())  # the darkest input: a pixel with no ink
    found = offsets(raw, moved, 1, blank)
    assert all(found) and sum((1, 1) not in o for o in found) > len(found) // 2  # each a shift; most moved
