"""MNIST: find, download and MD5-check the IDX files, parse them, and give seeded train/validation/test splits."""
import functools
import gzip
import hashlib
import os
import socket
import struct
import tempfile
import urllib.error
import urllib.request
import zlib
from collections import namedtuple
from pathlib import Path

import numpy as np

__all__ = [
    "MNIST_FILES", "MNIST_MD5", "MNIST_MIRRORS", "MNIST_MEAN", "MNIST_STD", "REPO_DATA_DIR",
    "MNISTNotFoundError", "MNISTChecksumError", "IDXFormatError", "MNISTSplits",
    "read_idx", "parse_idx", "md5sum", "verify_md5", "mnist_cache_dir", "find_mnist", "download_mnist",
    "load_mnist", "mnist_split_indices", "mnist_splits",
]

# (images, labels) file names per split, as published by LeCun et al. and every mirror.
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# The published MD5s of the gzip files (the same as data/mnist/MD5SUMS and torchvision's).
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# Mean and (population) std of the 60,000 training images scaled to [0, 1], computed in float64;
# the usual 0.1307 / 0.3081. tests/test_mnist.py recomputes them from the files.
MNIST_MEAN = 0.1306604762738429
MNIST_STD = 0.30810780385646264

REPO_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "mnist"
_ALL_FILES = tuple(name for pair in MNIST_FILES.values() for name in pair)
_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_NORMALIZE = (None, "unit", "standard")
_N_TRAIN = 60000

MNISTSplits = namedtuple("MNISTSplits", ["x_train", "y_train", "x_val", "y_val", "x_test", "y_test"])


class MNISTNotFoundError(FileNotFoundError):
    """The MNIST files are in none of the searched folders and could not be downloaded."""


class MNISTChecksumError(ValueError):
    """A file's MD5 differs from the published one (corrupt or incomplete copy)."""


class IDXFormatError(ValueError):
    """A file is not a well-formed (optionally gzipped) IDX file of the expected kind."""


# ----------------------------------------------------------------------------- IDX parsing

def parse_idx(data, name="<bytes>", magic=None):
    """Parse the bytes of an uncompressed IDX file into an array of the shape its header declares."""
    data = bytes(data) if not isinstance(data, bytes) else data
    if len(data) < 4:
        raise IDXFormatError(f"{name}: only {len(data)} bytes, too short for an IDX header")
    found = int.from_bytes(data[:4], "big")
    ndim, code = data[3], data[2]
    if data[:2] != b"\x00\x00" or code not in _IDX_DTYPES or ndim == 0 or (magic is not None and found != magic):
        want = f"0x{magic:08x}" if magic is not None else "0x000008NN (uint8) .. 0x00000eNN (float64)"
        raise IDXFormatError(f"{name}: bad IDX magic number 0x{found:08x}, expected {want}; "
                             f"the file is corrupt or not an IDX file")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IDXFormatError(f"{name}: truncated IDX header ({len(data)} bytes, {ndim} dimensions need {header})")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise IDXFormatError(f"{name}: header declares shape {dims} ({expected} bytes) but the data is "
                             f"{len(data)} bytes; the file is truncated or corrupt")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr if dtype.isnative or dtype.itemsize == 1 else arr.astype(dtype.newbyteorder("="))


def read_idx(path, magic=None):
    """Read an IDX file (gzipped when it ends in .gz or starts with the gzip signature) into an array."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise IDXFormatError(f"{path}: not a valid gzip file ({exc}); delete it and fetch it again") from exc
    return parse_idx(raw, name=str(path), magic=magic)


# ----------------------------------------------------------------------------- checksums

def md5sum(path, chunk_size=1 << 20):
    """Hex MD5 digest of a file."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_md5(path, expected=None):
    """Raise MNISTChecksumError naming the file unless its MD5 is `expected` (default: the published one)."""
    path = Path(path)
    expected = expected or MNIST_MD5.get(path.name)
    if expected is None:
        raise ValueError(f"no published MD5 for {path.name!r}; pass expected= or verify=False")
    got = md5sum(path)
    if got != expected:
        raise MNISTChecksumError(f"MD5 mismatch for {path}: expected {expected}, got {got}; the file is corrupt "
                                 f"or incomplete, delete it and copy or download it again")
    return path


# ----------------------------------------------------------------------------- locating and downloading

def mnist_cache_dir():
    """The download folder: $BPNET_CACHE_DIR if set, else ~/.cache/bpnet/mnist."""
    env = os.environ.get("BPNET_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "bpnet" / "mnist"


def _candidates(data_dir):
    """(folder, where-it-came-from) in search order."""
    out = []
    if data_dir is not None:
        out.append((Path(data_dir).expanduser(), "data_dir argument"))
    env = os.environ.get("BPNET_DATA_DIR")
    if env:
        root = Path(env).expanduser()
        out += [(root, "$BPNET_DATA_DIR"), (root / "mnist", "$BPNET_DATA_DIR/mnist")]
    out += [(REPO_DATA_DIR, "repository data/mnist"), (mnist_cache_dir(), "cache, $BPNET_CACHE_DIR")]
    return out


def _missing(folder, names=_ALL_FILES):
    return [n for n in names if not (folder / n).is_file()]


def _fetch(url, dest, expected_md5, progress, timeout):
    """Download url to dest through a temp file in dest's folder, check the MD5, then rename into place."""
    from tqdm.auto import tqdm

    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = resp.headers.get("Content-Length")
            with tqdm(total=int(total) if total else None, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        if h.hexdigest() != expected_md5:
            raise MNISTChecksumError(f"MD5 mismatch for {dest.name} downloaded from {url}: "
                                     f"expected {expected_md5}, got {h.hexdigest()}")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def download_mnist(dest=None, mirrors=None, files=None, progress=True, timeout=30.0):
    """Download the missing MNIST files into `dest` (default: the cache folder), trying each mirror in turn.

    Returns the folder; raises MNISTNotFoundError listing the files and errors if any file can't be fetched.
    """
    dest = Path(dest).expanduser() if dest is not None else mnist_cache_dir()
    mirrors = (mirrors,) if isinstance(mirrors, str) else tuple(mirrors or MNIST_MIRRORS)
    names = tuple(files or _ALL_FILES)
    errors = []
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        errors.append(f"cannot create {dest}: {exc}")
    else:
        unreachable = set()  # mirrors that failed to connect are not retried for the remaining files
        for name in _missing(dest, names):
            for base in mirrors:
                if base in unreachable:
                    continue
                url = base.rstrip("/") + "/" + name
                try:
                    _fetch(url, dest / name, MNIST_MD5[name], progress, timeout)
                    break
                except Exception as exc:  # URLError, HTTPError, timeouts, IncompleteRead, MD5 mismatch
                    errors.append(f"{url}: {exc}")
                    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                    if isinstance(reason, (TimeoutError, ConnectionError, socket.gaierror)):
                        unreachable.add(base)
    missing = _missing(dest, names)
    if missing:
        raise MNISTNotFoundError(f"could not download MNIST file(s) {', '.join(missing)} into {dest}:\n  "
                                 + "\n  ".join(errors))
    return dest


def find_mnist(data_dir=None, download=True, mirrors=None, progress=True, timeout=30.0):
    """The folder holding all four MNIST .gz files, downloading them into the cache folder if needed.

    Searches data_dir, $BPNET_DATA_DIR (and its mnist/ subfolder), the repository's data/mnist and the cache
    ($BPNET_CACHE_DIR, default ~/.cache/bpnet/mnist). Raises MNISTNotFoundError when offline and not found.
    """
    candidates = _candidates(data_dir)
    for folder, _ in candidates:
        if not _missing(folder):
            return folder
    cache = mnist_cache_dir()
    failure = "downloading was disabled (download=False)"
    if download:
        try:
            return download_mnist(cache, mirrors=mirrors, progress=progress, timeout=timeout)
        except MNISTNotFoundError as exc:
            failure = f"the download failed: {exc}"
    lines = []
    for folder, why in candidates:
        state = "does not exist" if not folder.is_dir() else "missing " + ", ".join(_missing(folder))
        lines.append(f"  {folder} ({why}): {state}")
    raise MNISTNotFoundError(
        "MNIST files not found. Needed: " + ", ".join(_ALL_FILES) + ".\nSearched:\n" + "\n".join(lines)
        + f"\nand {failure}\nPut the four files in one of those folders, or set BPNET_DATA_DIR to the folder "
        "holding them (or its parent with an mnist/ subfolder); set BPNET_CACHE_DIR to change where "
        "downloads go.")


# ----------------------------------------------------------------------------- loading

@functools.lru_cache(maxsize=8)
def _parse_pair(images_path, labels_path, verify, _stamp):
    """Parsed (uint8 images (N, 28, 28), uint8 labels (N,)), read-only; cached per file path, size and mtime."""
    if verify:
        verify_md5(images_path)
        verify_md5(labels_path)
    images = read_idx(images_path, magic=_IMAGES_MAGIC)
    labels = read_idx(labels_path, magic=_LABELS_MAGIC)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise IDXFormatError(f"{images_path}: images are shaped {images.shape}, expected (N, 28, 28)")
    if labels.ndim != 1 or len(images) != len(labels):
        raise IDXFormatError(f"{images_path} holds {len(images)} images but {labels_path} holds labels "
                             f"shaped {labels.shape}")
    if labels.size and labels.max() > 9:
        raise IDXFormatError(f"{labels_path}: label {labels.max()} outside 0..9")
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def _raw(split, data_dir, download, verify, mirrors, progress):
    """The cached, read-only uint8 (images, labels) of a split."""
    if split not in MNIST_FILES:
        raise ValueError(f"split must be one of {tuple(MNIST_FILES)}, got {split!r}")
    folder = find_mnist(data_dir, download=download, mirrors=mirrors, progress=progress)
    paths = [(folder / name).resolve() for name in MNIST_FILES[split]]
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
    return _parse_pair(str(paths[0]), str(paths[1]), bool(verify), stamp)


def _check_normalize(normalize):
    if normalize not in _NORMALIZE:
        raise ValueError(f"normalize must be one of {_NORMALIZE}, got {normalize!r}")


def _normalize(images, normalize, copy=True):
    """uint8 images as they are, or float32 in [0, 1] ("unit") or standardised with the training mean/std."""
    if normalize is None:
        return images.copy() if copy else images
    x = images.astype(np.float32)
    x /= np.float32(255)
    if normalize == "standard":
        x -= np.float32(MNIST_MEAN)
        x /= np.float32(MNIST_STD)
    return x


def load_mnist(split="train", data_dir=None, normalize=None, download=True, verify=True, mirrors=None,
               progress=True):
    """(images, labels) of one split: images (N, 28, 28) uint8, or float32 when normalize is "unit"/"standard".

    "standard" uses the training-set MNIST_MEAN/MNIST_STD for both splits; labels are int64 in 0..9. The parsed
    files are cached in-process; every call returns fresh arrays the caller may modify.
    """
    _check_normalize(normalize)
    images, labels = _raw(split, data_dir, download, verify, mirrors, progress)
    return _normalize(images, normalize), labels.astype(np.int64)


def mnist_split_indices(validation_size=10000, seed=0, n=_N_TRAIN):
    """(train_idx, val_idx): sorted, disjoint indices into the n training images, chosen by a seeded permutation."""
    if isinstance(validation_size, bool) or int(validation_size) != validation_size or not 0 <= validation_size < n:
        raise ValueError(f"validation_size must be an integer in [0, {n}), got {validation_size!r}")
    order = np.random.default_rng(seed).permutation(n)
    k = int(validation_size)
    return np.sort(order[k:]), np.sort(order[:k])


def mnist_splits(validation_size=10000, seed=0, normalize="unit", flatten=False, data_dir=None, download=True,
                 verify=True, mirrors=None, progress=True):
    """MNISTSplits(x_train, y_train, x_val, y_val, x_test, y_test): validation carved from the 60,000 training
    images by a seeded permutation, the 10,000 test images untouched; images (N, 1, 28, 28) (NCHW), or (N, 784)
    when flatten=True; float32 unless normalize=None (uint8); labels int64."""
    _check_normalize(normalize)
    train_idx, val_idx = mnist_split_indices(validation_size, seed)
    x_all, y_all = _raw("train", data_dir, download, verify, mirrors, progress)
    x_test, y_test = _raw("test", data_dir, download, verify, mirrors, progress)
    shape = (-1, 784) if flatten else (-1, 1, 28, 28)

    def prep(x, fresh):
        return _normalize(x, normalize, copy=not fresh).reshape(shape)

    as64 = lambda y: y.astype(np.int64)  # noqa: E731
    return MNISTSplits(prep(x_all[train_idx], True), as64(y_all[train_idx]), prep(x_all[val_idx], True),
                       as64(y_all[val_idx]), prep(x_test, False), as64(y_test))
