"""nblib.data: offline datasets with documented shapes and dtypes, and clear errors."""
import socket

import pytest
import torch

from nblib import data
from devices import ELSEWHERE


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("nblib.data tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_mnist1d_is_generated_offline_with_the_published_shapes(no_network, tmp_path, monkeypatch):
    monkeypatch.setenv("NBLIB_CACHE", str(tmp_path))
    s = data.load_mnist1d()
    assert s.x_train.shape == (4000, 40) and s.x_test.shape == (1000, 40)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.int64
    assert set(s.y_train.unique().tolist()) == set(range(10)) and s.num_classes == 10
    assert s.x_val is None
    assert list(tmp_path.glob("mnist1d-*.npz")), "the generated arrays are cached"


def test_mnist1d_cache_returns_the_same_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NBLIB_CACHE", str(tmp_path))
    a, b = data.load_mnist1d(), data.load_mnist1d()
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert torch.equal(a.x_train, data.load_mnist1d(cache=False).x_train)


def test_spatial_shuffle_permutes_positions_but_keeps_values(mnist1d):
    a, b = mnist1d, data.load_mnist1d(spatial_shuffle=True)
    assert not torch.equal(a.x_train, b.x_train)
    assert torch.equal(a.x_train.sort(dim=1).values, b.x_train.sort(dim=1).values)
    assert torch.equal(a.y_train, b.y_train)


def test_digits_split_is_fixed_stratified_and_disjoint():
    s = data.load_digits()
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (1077, 360, 360)
    assert s.x_train.shape[1] == 64 and 0 <= s.x_train.min() and s.x_train.max() <= 1
    assert torch.equal(s.x_test, data.load_digits().x_test), "the split does not depend on any seed"
    assert s.y_test.bincount().min() >= 35, "stratified: every digit is in the test set"
    rows = {tuple(r.tolist()) for r in s.x_train}
    assert sum(tuple(r.tolist()) in rows for r in s.x_test) < 5  # (the raw data has a few duplicates)


def test_digits_as_images():
    assert data.load_digits(flatten=False).x_train.shape == (1077, 1, 8, 8)


@pytest.mark.parametrize("name", data.TOY_DATASETS)
def test_toy_sets_have_documented_shapes_and_both_classes(name):
    x, y = data.toy_2d(name, n=200, seed=3)
    assert x.shape == (200, 2) and x.dtype == torch.float32
    assert y.shape == (200,) and y.dtype == torch.int64 and set(y.tolist()) == {0, 1}
    x2, y2 = data.toy_2d(name, n=200, seed=3)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def test_xor_labels_follow_the_quadrants_at_low_noise():
    x, y = data.toy_2d("xor", n=500, noise=0.05)
    assert torch.equal(y, ((x[:, 0] > 0) != (x[:, 1] > 0)).long())


def test_unknown_dataset_names_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown toy dataset 'swirls'; expected one of xor, moons"):
        data.toy_2d("swirls")
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar10'; expected one of mnist1d, mnist28, digits"):
        data.load("cifar10")
    with pytest.raises(ValueError, match=r"toy_2d\('moons'\)"):
        data.load("moons")


def test_load_by_name():
    assert data.load("digits").name == "digits"


@pytest.mark.parametrize("kwargs, message", [({"n": 2}, "n must be an int >= 4, got 2"),
                                             ({"noise": -1}, "noise must be a number >= 0, got -1")])
def test_bad_toy_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.toy_2d("moons", **kwargs)


def test_loader_shuffles_deterministically_from_its_seed(digits):
    s = digits

    def first_labels(seed):
        return next(iter(s.loader("train", 32, seed=seed)))[1]

    assert torch.equal(first_labels(1), first_labels(1)) and not torch.equal(first_labels(1), first_labels(2))
    x, y = next(iter(s.loader("test", 360)))
    assert torch.equal(y, s.y_test), "evaluation splits are not shuffled"


def test_loader_errors_name_the_shapes(digits, mnist1d):
    with pytest.raises(ValueError, match=r"same first dimension, got x \(5, 2\) and y \(4,\)"):
        data.make_loader(torch.zeros(5, 2), torch.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        data.make_loader(torch.zeros(5, 2), torch.zeros(5), batch_size=0)
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'test', got 'dev'"):
        digits.loader("dev", 8)
    with pytest.raises(ValueError, match="has no 'val' split"):
        mnist1d.loader("val", 8)


def test_batches_without_shuffle_equal_a_torch_dataloader():
    from torch.utils.data import DataLoader, TensorDataset

    x, y = torch.randn(10, 3), torch.arange(10)
    ours = list(data.make_loader(x, y, 4, shuffle=False))
    theirs = list(DataLoader(TensorDataset(x, y), batch_size=4))
    assert len(ours) == len(theirs) == 3
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(ours, theirs))


def test_shuffled_batches_cover_the_data_once_per_pass_in_a_new_order():
    x, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    batches = data.make_loader(x, y, 3, seed=0)
    first, second = [torch.cat([b[1] for b in batches]) for _ in range(2)]
    assert sorted(first.tolist()) == sorted(second.tolist()) == list(range(10))
    assert not torch.equal(first, second), "each pass draws a new permutation"
    assert all(torch.equal(xb[:, 0].long(), yb) for xb, yb in batches), "inputs stay paired with targets"


def test_drop_last_keeps_only_full_batches():
    batches = data.make_loader(torch.zeros(10, 2), torch.zeros(10), 3, drop_last=True)
    assert len(batches) == 3 and all(len(b[1]) == 3 for b in batches)
    with pytest.raises(ValueError, match="batch_size 11 is larger than the 10 examples"):
        data.make_loader(torch.zeros(10, 2), torch.zeros(10), 11, drop_last=True)


@pytest.mark.parametrize("device", ELSEWHERE)
def test_batches_move_to_a_device_once(device):
    # "meta" tensors have shapes but no values: a device to move to on a machine without a GPU.
    x, y = torch.arange(12.0).reshape(6, 2), torch.arange(6)
    batches = data.make_loader(x, y, 4, seed=3, drop_last=True)
    moved = batches.to(device)
    assert moved is not batches and moved.x.device.type == moved.y.device.type == device
    assert batches.x.device.type == batches.y.device.type == "cpu", "the original batches stay where they were"
    assert (moved.batch_size, moved.shuffle, moved.seed, moved.drop_last, len(moved)) == (4, True, 3, True, 1)
    assert all(xb.device.type == yb.device.type == device and xb.shape == (4, 2) and yb.shape == (4,)
               for xb, yb in moved), "every batch comes from the moved data"
    assert "batch_size=4" in repr(moved)


def test_moved_batches_are_the_same_batches_in_the_same_order():
    x, y = torch.arange(20.0).reshape(10, 2), torch.arange(10)
    here = data.make_loader(x, y, 3, seed=5)
    first_pass = list(here)
    moved = here.to("cpu")  # a fresh generator: its first pass is the first pass of the seed
    assert len(first_pass) == len(moved) == 4
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(first_pass, moved))


def test_mnist28_is_the_real_5000_digits_in_a_fixed_stratified_split():
    s = data.load("mnist28")
    assert (s.x_train.shape, s.x_val.shape, s.x_test.shape) == ((3000, 1, 28, 28), (1000, 1, 28, 28),
                                                               (1000, 1, 28, 28))
    assert s.x_train.dtype == torch.float32 and 0 <= s.x_train.min() and s.x_train.max() == 1
    assert torch.bincount(s.y_test, minlength=10).tolist() == [100] * 10
    again = data.load_mnist28(flatten=True)
    assert again.x_test.shape == (1000, 784) and torch.equal(again.x_test, s.x_test.reshape(1000, 784))
    # a digit has ink in its centre and a blank border, as MNIST's 20x20 boxes centred in 28x28
    mean = s.x_train.mean(0)[0]
    assert mean[10:18, 10:18].mean() > 10 * mean[:2].mean()
