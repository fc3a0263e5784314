"""Data augmentation on mini-batches of images: a random shift by a few pixels."""
import numpy as np

__all__ = ["RandomShift"]


class RandomShift:
    """Move each image of a batch by a random whole number of pixels, up to `max_shift` each way in each direction
    (a new draw for every image and every call); uncovered pixels take the value `fill` (a blank pixel).

    For every image this is torchvision's RandomCrop(size=(H, W), padding=max_shift, fill=fill): pad by max_shift,
    crop H x W at a uniformly random offset. `image_shape` is (H, W) or (C, H, W); a batch is (N, *image_shape) or
    its rows flattened, (N, prod(image_shape)); the result has the batch's shape and dtype and is a new array."""

    def __init__(self, max_shift, image_shape, fill=0.0, generator=None):
        if isinstance(max_shift, bool) or int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"max_shift must be a whole number >= 0, got {max_shift!r}")
        self.max_shift, self.image_shape, self.fill = int(max_shift), tuple(image_shape), fill
        self._rng = generator if generator is not None else np.random.default_rng()

    def __call__(self, x):
        s = self.max_shift
        if s == 0:
            return x.copy()
        h, w = self.image_shape[-2:]
        images = x.reshape(len(x), -1, h, w)  # (N, C, H, W) view of the batch
        padded = np.pad(images, [(0, 0), (0, 0), (s, s), (s, s)], constant_values=self.fill)
        # the crop's top-left corner in the padded image: (s, s) is no shift, (0, 0) moves the digit down-right
        top, left = self._rng.integers(0, 2 * s + 1, size=(2, len(x)))
        out = np.empty_like(images)
        for dy in range(2 * s + 1):  # one slice per offset, for the images drawn with it
            for dx in range(2 * s + 1):
                idx = np.flatnonzero((top == dy) & (left == dx))
                if len(idx):
                    out[idx] = padded[idx, :, dy:dy + h, dx:dx + w]
        return out.reshape(x.shape)
