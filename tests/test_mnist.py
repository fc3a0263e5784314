"""MNIST: the repository copy, IDX parsing, MD5 checks, file search, download (local server only) and splits."""
import functools
import gzip
import hashlib
import http.server
import shutil
import struct
import threading

import numpy as np
import pytest

from bpnet.data import mnist
from bpnet.data.mnist import (IDXFormatError, MNISTChecksumError, MNISTNotFoundError, MNIST_FILES, MNIST_MD5,
                              find_mnist, load_mnist, mnist_split_indices, mnist_splits, read_idx)

REPO = mnist.REPO_DATA_DIR
ALL_FILES = [name for pair in MNIST_FILES.values() for name in pair]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """No user BPNET_DATA_DIR, and a throwaway cache so nothing is written to ~/.cache."""
    monkeypatch.delenv("BPNET_DATA_DIR", raising=False)
    monkeypatch.setenv("BPNET_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def no_repo_copy(monkeypatch, tmp_path):
    """Hide the repository's data/mnist so the search falls through to the cache / download."""
    monkeypatch.setattr(mnist, "REPO_DATA_DIR", tmp_path / "no-repo-copy")


def copy_mnist(dest):
    dest.mkdir(parents=True, exist_ok=True)
    for name in ALL_FILES:
        shutil.copyfile(REPO / name, dest / name)
    return dest


def write_idx(path, array, magic=None):
    """Write `array` as a gzipped IDX file (uint8 data), optionally with a forced magic number."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.tobytes()))


# ----------------------------------------------------------------------------- the repository copy

def test_repo_copy_matches_published_md5s():
    published = dict(line.split()[::-1] for line in (REPO / "MD5SUMS").read_text().splitlines() if line.strip())
    assert published == MNIST_MD5
    for name in ALL_FILES:
        assert hashlib.md5((REPO / name).read_bytes()).hexdigest() == MNIST_MD5[name]


def test_train_split_shapes_dtypes_and_labels():
    x, y = load_mnist("train", download=False)
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60000,) and y.dtype == np.int64
    assert y.min() == 0 and y.max() == 9 and len(np.unique(y)) == 10
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the well-known first training labels
    assert x.max() == 255 and x.min() == 0


def test_test_split_is_exactly_the_t10k_files():
    x, y = load_mnist("test", download=False)
    assert x.shape == (10000, 28, 28) and y.shape == (10000,)
    np.testing.assert_array_equal(x, read_idx(REPO / "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(y, read_idx(REPO / "t10k-labels-idx1-ubyte.gz"))
    assert y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_loads_are_cached_but_return_fresh_arrays():
    x1, y1 = load_mnist("test", download=False)
    hits = mnist._parse_pair.cache_info().hits
    x1[:] = 0
    y1[:] = -1
    x2, y2 = load_mnist("test", download=False)
    assert mnist._parse_pair.cache_info().hits == hits + 1
    assert x2.any() and y2.min() == 0  # the caller's edits did not reach the cache


def test_normalize_options():
    raw, _ = load_mnist("test", download=False)
    unit, _ = load_mnist("test", normalize="unit", download=False)
    std, _ = load_mnist("test", normalize="standard", download=False)
    assert unit.dtype == np.float32 and std.dtype == np.float32 and unit.shape == (10000, 28, 28)
    assert unit.min() == 0.0 and unit.max() == 1.0
    np.testing.assert_allclose(unit, raw / 255.0, rtol=1e-6)
    np.testing.assert_allclose(std, (raw / 255.0 - mnist.MNIST_MEAN) / mnist.MNIST_STD, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="normalize"):
        load_mnist("test", normalize="minmax", download=False)
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation", download=False)


def test_standardisation_constants_are_the_training_set_statistics():
    x, _ = load_mnist("train", download=False)
    flat = x.reshape(-1).astype(np.int64)
    n, total, squares = flat.size, int(flat.sum()), int(flat @ flat)  # exact integer sums
    mean = total / (255 * n)
    std = (squares / (255 ** 2 * n) - mean ** 2) ** 0.5
    assert mnist.MNIST_MEAN == pytest.approx(mean, rel=1e-12)
    assert mnist.MNIST_STD == pytest.approx(std, rel=1e-9)
    assert round(mnist.MNIST_MEAN, 4) == 0.1307 and round(mnist.MNIST_STD, 4) == 0.3081
    std_test, _ = load_mnist("test", normalize="standard", download=False)
    assert abs(float(std_test.mean(dtype=np.float64))) < 0.05  # the test set is close to, not exactly, standard


# ----------------------------------------------------------------------------- corrupt files

def test_md5_check_names_the_corrupted_file(tmp_path):
    folder = copy_mnist(tmp_path / "copy")
    bad = folder / "train-labels-idx1-ubyte.gz"
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(MNISTChecksumError, match="train-labels-idx1-ubyte.gz") as info:
        load_mnist("train", data_dir=folder, download=False)
    assert str(bad) in str(info.value) and MNIST_MD5[bad.name] in str(info.value)
    x, _ = load_mnist("test", data_dir=folder, download=False)  # the intact split still loads
    assert x.shape == (10000, 28, 28)


def test_idx_parser_rejects_bad_magic_number(tmp_path):
    labels = read_idx(REPO / "t10k-labels-idx1-ubyte.gz")
    path = tmp_path / "labels.gz"
    write_idx(path, labels, magic=0x12345678)
    with pytest.raises(IDXFormatError, match="magic number 0x12345678"):
        read_idx(path)
    write_idx(path, labels)  # a valid IDX, but an image file's magic is expected
    with pytest.raises(IDXFormatError, match="0x00000803"):
        read_idx(path, magic=0x00000803)


def test_idx_parser_rejects_truncated_and_non_gzip_files(tmp_path):
    raw = gzip.decompress((REPO / "t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(IDXFormatError, match="truncated"):
        mnist.parse_idx(raw[:-1], name="cut")
    with pytest.raises(IDXFormatError, match="too short"):
        mnist.parse_idx(b"\x00\x00", name="tiny")
    not_gz = tmp_path / "x.gz"
    not_gz.write_bytes(b"this is not gzip data")
    with pytest.raises(IDXFormatError, match="gzip"):
        read_idx(not_gz)


def test_idx_round_trip_and_load_of_custom_files_without_md5(tmp_path):
    rng = np.random.default_rng(0)
    images = {s: rng.integers(0, 256, (n, 28, 28)) for s, n in (("train", 5), ("test", 3))}
    labels = {s: rng.integers(0, 10, len(images[s])) for s in images}
    for split, (img_name, lab_name) in MNIST_FILES.items():
        write_idx(tmp_path / img_name, images[split])
        write_idx(tmp_path / lab_name, labels[split])
    x, y = load_mnist("test", data_dir=tmp_path, verify=False, download=False)
    np.testing.assert_array_equal(x, images["test"])
    np.testing.assert_array_equal(y, labels["test"])
    with pytest.raises(MNISTChecksumError):  # verification is on by default
        load_mnist("test", data_dir=tmp_path, download=False)


# ----------------------------------------------------------------------------- search order

def test_search_order(tmp_path, monkeypatch):
    assert find_mnist(download=False) == REPO
    env_root = tmp_path / "env"
    copy_mnist(env_root / "mnist")
    monkeypatch.setenv("BPNET_DATA_DIR", str(env_root))
    assert find_mnist(download=False) == env_root / "mnist"  # $BPNET_DATA_DIR/mnist beats the repository copy
    explicit = copy_mnist(tmp_path / "explicit")
    assert find_mnist(explicit, download=False) == explicit
    assert find_mnist(tmp_path / "empty", download=False) == env_root / "mnist"  # falls through


# ----------------------------------------------------------------------------- download (local server only)

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve(tmp_path):
    """serve(folder) -> base URL of a 127.0.0.1 HTTP server for that folder; requests are logged in .paths."""
    servers = []

    def start(folder):
        paths = []

        class Handler(_QuietHandler):
            def do_GET(self):
                paths.append(self.path)
                super().do_GET()

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        start.paths = paths
        return f"http://127.0.0.1:{server.server_address[1]}/mnist/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_download_into_cache_verifies_and_loads(tmp_path, no_repo_copy, serve):
    url = serve(copy_mnist(tmp_path / "site" / "mnist").parent)
    empty = tmp_path / "empty"
    empty.mkdir()
    folder = find_mnist(empty, mirrors=[url], progress=False)
    cache = tmp_path / "cache"
    assert folder == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(ALL_FILES)  # no temp files left behind
    assert sorted(serve.paths) == sorted("/mnist/" + n for n in ALL_FILES)
    for name in ALL_FILES:
        mnist.verify_md5(cache / name)
    x, y = load_mnist("test", data_dir=empty, mirrors=[url], progress=False)
    np.testing.assert_array_equal(y, read_idx(REPO / "t10k-labels-idx1-ubyte.gz"))
    assert x.shape == (10000, 28, 28)
    assert len(serve.paths) == 4  # found in the cache the second time, nothing fetched again


def test_download_falls_back_to_next_mirror_and_never_keeps_a_bad_file(tmp_path, no_repo_copy, serve):
    name = "t10k-labels-idx1-ubyte.gz"
    bad_site = tmp_path / "bad" / "mnist"
    bad_site.mkdir(parents=True)
    (bad_site / name).write_bytes(b"corrupt" * 100)
    bad_url = serve(bad_site.parent)
    good_url = serve(copy_mnist(tmp_path / "good" / "mnist").parent)
    dest = tmp_path / "dest"
    with pytest.raises(MNISTNotFoundError, match="MD5 mismatch"):
        mnist.download_mnist(dest, mirrors=[bad_url], files=[name], progress=False)
    assert list(dest.iterdir()) == []  # neither the bad file nor a .part temp file
    mnist.download_mnist(dest, mirrors=[bad_url, good_url], files=[name], progress=False)
    assert [p.name for p in dest.iterdir()] == [name]
    mnist.verify_md5(dest / name)


def test_download_accepts_file_urls(tmp_path, no_repo_copy):
    dest = mnist.download_mnist(tmp_path / "dest", mirrors=[REPO.as_uri()], files=["t10k-labels-idx1-ubyte.gz"],
                                progress=False)
    assert (dest / "t10k-labels-idx1-ubyte.gz").read_bytes() == (REPO / "t10k-labels-idx1-ubyte.gz").read_bytes()


def test_offline_error_names_files_folders_and_env_vars(tmp_path, no_repo_copy):
    empty = tmp_path / "empty"
    with pytest.raises(MNISTNotFoundError) as info:
        find_mnist(empty, mirrors=["http://127.0.0.1:9/"], progress=False, timeout=5)
    assert isinstance(info.value, FileNotFoundError)
    msg = str(info.value)
    for needle in [str(empty), str(tmp_path / "cache"), str(tmp_path / "no-repo-copy"), "BPNET_DATA_DIR",
                   "BPNET_CACHE_DIR", "127.0.0.1:9", *ALL_FILES]:
        assert needle in msg, needle
    assert msg.count("127.0.0.1:9/") == 1  # a refused mirror is not retried for every file
    assert not any((tmp_path / "cache").glob("*"))  # nothing half-written
    with pytest.raises(MNISTNotFoundError, match="download=False"):
        load_mnist("test", data_dir=empty, download=False)


# ----------------------------------------------------------------------------- splits

def test_split_indices_disjoint_sized_and_seeded():
    train, val = mnist_split_indices(12345, seed=3)
    assert len(val) == 12345 and len(train) == 60000 - 12345
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(60000))
    again_train, again_val = mnist_split_indices(12345, seed=3)
    np.testing.assert_array_equal(val, again_val)
    np.testing.assert_array_equal(train, again_train)
    assert not np.array_equal(val, mnist_split_indices(12345, seed=4)[1])
    assert not np.array_equal(val, np.arange(12345))  # a permutation, not the first images
    for bad in (-1, 60000, 2.5, True):
        with pytest.raises(ValueError, match="validation_size"):
            mnist_split_indices(bad)


def test_mnist_splits_flattened_contents():
    s = mnist_splits(validation_size=5000, seed=1, flatten=True, download=False)
    assert s.x_train.shape == (55000, 784) and s.x_val.shape == (5000, 784) and s.x_test.shape == (10000, 784)
    assert s.y_train.shape == (55000,) and s.y_val.shape == (5000,) and s.y_test.shape == (10000,)
    assert {a.dtype for a in (s.x_train, s.x_val, s.x_test)} == {np.dtype(np.float32)}
    assert {a.dtype for a in (s.y_train, s.y_val, s.y_test)} == {np.dtype(np.int64)}
    raw_x, raw_y = load_mnist("train", download=False)
    train_idx, val_idx = mnist_split_indices(5000, seed=1)
    np.testing.assert_array_equal(s.x_val, raw_x[val_idx].reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(s.y_val, raw_y[val_idx])
    np.testing.assert_array_equal(s.y_train, raw_y[train_idx])
    test_x, test_y = load_mnist("test", normalize="unit", download=False)
    np.testing.assert_array_equal(s.x_test, test_x.reshape(-1, 784))
    np.testing.assert_array_equal(s.y_test, test_y)


def test_mnist_splits_nchw_uint8_and_standard():
    s = mnist_splits(validation_size=10000, seed=0, normalize=None, download=False)
    assert s.x_train.shape == (50000, 1, 28, 28) and s.x_val.shape == (10000, 1, 28, 28)
    assert s.x_test.shape == (10000, 1, 28, 28) and s.x_train.dtype == np.uint8
    t = mnist_splits(validation_size=10000, seed=0, normalize="standard", download=False)
    np.testing.assert_allclose(t.x_val, (s.x_val / 255.0 - mnist.MNIST_MEAN) / mnist.MNIST_STD, atol=1e-5)
    np.testing.assert_array_equal(s.y_val, t.y_val)
    with pytest.raises(ValueError, match="normalize"):
        mnist_splits(normalize="zscore", download=False)
