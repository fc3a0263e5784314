"""DataLoader, train_test_split and Standardizer."""
import numpy as np
import pytest
import torch  # requirements-dev.txt pins the CPU wheel

import bpnet
from bpnet.data import DataLoader, Standardizer, train_test_split


def dataset(n=23):
    x = np.arange(n * 2, dtype=np.float64).reshape(n, 2)  # row i is [2i, 2i+1]
    y = np.arange(n)
    return x, y


def epoch(loader):
    return [(bx.copy(), by.copy()) for bx, by in loader]


# --- DataLoader -----------------------------------------------------------------------------------

@pytest.mark.parametrize("shuffle", [False, True])
def test_each_epoch_covers_the_data_exactly_once(shuffle):
    x, y = dataset()
    loader = DataLoader(x, y, batch_size=5, shuffle=shuffle, seed=0)
    for _ in range(2):
        seen = np.concatenate([by for _, by in loader])
        assert sorted(seen.tolist()) == list(range(23))


def test_batch_sizes_and_len_without_drop_last():
    x, y = dataset(23)
    loader = DataLoader(x, y, batch_size=5)
    assert [len(bx) for bx, _ in loader] == [5, 5, 5, 5, 3]
    assert len(loader) == 5


def test_batch_sizes_and_len_with_drop_last():
    x, y = dataset(23)
    loader = DataLoader(x, y, batch_size=5, shuffle=True, drop_last=True, seed=1)
    batches = list(loader)
    assert [len(bx) for bx, _ in batches] == [5, 5, 5, 5]
    assert len(loader) == 4
    assert len(set(np.concatenate([by for _, by in batches]).tolist())) == 20


def test_exact_multiple_and_oversized_batch():
    x, y = dataset(20)
    assert len(DataLoader(x, y, batch_size=5, drop_last=False)) == 4
    assert [len(bx) for bx, _ in DataLoader(x, y, batch_size=50)] == [20]
    assert list(DataLoader(x, y, batch_size=50, drop_last=True)) == []


@pytest.mark.parametrize("n, batch_size", [(23, 5), (20, 5), (4, 5), (1, 1), (33, 32)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batches_and_len_match_pytorch(n, batch_size, drop_last):
    x, y = dataset(n)
    ours = DataLoader(x, y, batch_size=batch_size, drop_last=drop_last)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [by.tolist() for _, by in ours] == [by.tolist() for _, by in theirs]


def test_shuffled_drop_last_drops_the_tail_of_the_epochs_permutation_as_pytorch_does():
    x, y = dataset(23)
    order = np.concatenate([by for _, by in DataLoader(x, y, batch_size=5, shuffle=True, seed=4)])
    ours = DataLoader(x, y, batch_size=5, shuffle=True, drop_last=True, seed=4)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                         batch_size=5, sampler=order.tolist(), drop_last=True)
    assert [by.tolist() for _, by in ours] == [by.tolist() for _, by in theirs]


def test_loader_is_re_iterable():
    x, y = dataset()
    loader = DataLoader(x, y, batch_size=4)
    assert sum(1 for _ in loader) == sum(1 for _ in loader) == 6


def test_shuffle_false_keeps_order():
    x, y = dataset()
    batches = list(DataLoader(x, y, batch_size=4, shuffle=False))
    np.testing.assert_array_equal(np.concatenate([bx for bx, _ in batches]), x)
    np.testing.assert_array_equal(np.concatenate([by for _, by in batches]), y)


def test_reshuffles_each_epoch_and_seed_repeats_the_sequence():
    x, y = dataset(50)
    a = DataLoader(x, y, batch_size=10, shuffle=True, seed=7)
    b = DataLoader(x, y, batch_size=10, shuffle=True, seed=7)
    a1, a2 = epoch(a), epoch(a)
    b1, b2 = epoch(b), epoch(b)
    order = lambda e: np.concatenate([by for _, by in e])  # noqa: E731
    assert not np.array_equal(order(a1), order(a2))
    assert not np.array_equal(order(a1), np.arange(50))
    np.testing.assert_array_equal(order(a1), order(b1))
    np.testing.assert_array_equal(order(a2), order(b2))
    assert not np.array_equal(order(a1), order(epoch(DataLoader(x, y, batch_size=10, shuffle=True, seed=8))))


def test_unseeded_loader_follows_manual_seed():
    x, y = dataset(30)
    loader = DataLoader(x, y, batch_size=30, shuffle=True)
    bpnet.manual_seed(11)
    first = next(iter(loader))[1]
    bpnet.manual_seed(11)
    np.testing.assert_array_equal(next(iter(loader))[1], first)


def test_x_and_y_stay_aligned_when_shuffled():
    x, y = dataset()
    for bx, by in DataLoader(x, y, batch_size=6, shuffle=True, seed=3):
        np.testing.assert_array_equal(bx[:, 0], 2 * by)
        np.testing.assert_array_equal(bx[:, 1], 2 * by + 1)


def test_x_only_yields_arrays():
    x, _ = dataset(10)
    batches = list(DataLoader(x, batch_size=4))
    assert all(isinstance(b, np.ndarray) for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_loader_rejects_bad_arguments():
    x, y = dataset(10)
    with pytest.raises(ValueError):
        DataLoader(x, y[:9])
    for bs in (0, -1, 2.5, True):
        with pytest.raises(ValueError):
            DataLoader(x, y, batch_size=bs)


# --- train_test_split -----------------------------------------------------------------------------

def test_split_is_disjoint_complete_and_aligned():
    x, y = dataset(50)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, seed=0)
    assert len(x_test) == len(y_test) == 10 and len(x_train) == len(y_train) == 40
    assert set(y_train.tolist()).isdisjoint(y_test.tolist())
    assert sorted(y_train.tolist() + y_test.tolist()) == list(range(50))
    np.testing.assert_array_equal(x_train[:, 0], 2 * y_train)
    np.testing.assert_array_equal(x_test[:, 0], 2 * y_test)
    assert not np.array_equal(np.sort(y_test), np.arange(40, 50))  # shuffled, not the tail


def test_split_is_seeded():
    x, y = dataset(50)
    first = train_test_split(x, y, seed=3)
    again = train_test_split(x, y, seed=3)
    other = train_test_split(x, y, seed=4)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[3], other[3])


def test_unseeded_split_follows_manual_seed():
    x, y = dataset(50)
    bpnet.manual_seed(5)
    first = train_test_split(x, y)[3]
    bpnet.manual_seed(5)
    np.testing.assert_array_equal(train_test_split(x, y)[3], first)


def test_split_with_int_test_size_and_without_y():
    x, _ = dataset(30)
    x_train, x_test = train_test_split(x, test_size=7, seed=0)
    assert len(x_test) == 7 and len(x_train) == 23


def test_split_without_shuffle_takes_first_rows_for_test():
    x, y = dataset(10)
    _, _, y_train, y_test = train_test_split(x, y, test_size=3, shuffle=False)
    np.testing.assert_array_equal(y_test, [0, 1, 2])
    np.testing.assert_array_equal(y_train, np.arange(3, 10))


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 10])
def test_split_rejects_empty_parts(test_size):
    x, y = dataset(10)
    with pytest.raises(ValueError):
        train_test_split(x, y, test_size=test_size)


# --- Standardizer ---------------------------------------------------------------------------------

def test_standardizer_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    train = rng.normal([5.0, -3.0], [2.0, 0.5], size=(200, 2))
    test = rng.normal([50.0, 0.0], [1.0, 1.0], size=(20, 2))
    scaler = Standardizer().fit(train)
    z_train, z_test = scaler.transform(train), scaler.transform(test)
    np.testing.assert_allclose(z_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z_train.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(z_test, (test - train.mean(axis=0)) / train.std(axis=0), rtol=1e-12)


def test_standardizer_inverse_transform_round_trips():
    x = np.random.default_rng(1).normal(3.0, 4.0, size=(30, 3))
    scaler = Standardizer()
    np.testing.assert_allclose(scaler.inverse_transform(scaler.fit_transform(x)), x, rtol=1e-12)


def test_standardizer_constant_feature_gives_no_nan():
    x = np.column_stack([np.full(10, 4.0), np.arange(10.0)])
    with np.errstate(all="raise"):
        z = Standardizer().fit_transform(x)
    assert np.all(np.isfinite(z))
    np.testing.assert_array_equal(z[:, 0], 0.0)
    np.testing.assert_allclose(z[:, 1].std(), 1, rtol=1e-12)


def test_standardizer_keeps_float32():
    x = np.random.default_rng(2).standard_normal((10, 2)).astype(np.float32)
    assert Standardizer().fit_transform(x).dtype == np.float32


def test_standardizer_before_fit_raises():
    with pytest.raises(RuntimeError):
        Standardizer().transform(np.ones((2, 2)))
