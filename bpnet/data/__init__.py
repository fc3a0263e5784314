"""Data: batching, splitting, standardising, shifting images at random; MNIST and formula datasets."""
from .loader import DataLoader, Standardizer, holdout_size, train_test_split
from .mnist import MNISTChecksumError, MNISTNotFoundError, IDXFormatError, find_mnist, load_mnist, mnist_splits
from .transforms import RandomShift
from .functions import FunctionDataset, SurfaceDataset
from .classification import make_classification, make_classification_2d, n_features, two_moons, spiral, circles, xor, spheres

__all__ = ["DataLoader", "Standardizer", "train_test_split", "holdout_size", "RandomShift",
           "MNISTChecksumError", "MNISTNotFoundError", "IDXFormatError", "find_mnist", "load_mnist", "mnist_splits",
           "FunctionDataset", "SurfaceDataset",
           "make_classification", "make_classification_2d", "n_features", "two_moons", "spiral", "circles", "xor",
           "spheres"]
