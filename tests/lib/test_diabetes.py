"""nblib.data.load_diabetes: a fixed split, standardised with training statistics only."""
import socket

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes as sk_load

from nblib import data


def test_loads_offline_with_the_documented_shapes(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_diabetes tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    s = data.load("diabetes")
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (282, 80, 80)
    assert s.x_train.shape[1] == 10 and s.y_train.shape == (282, 1)
    assert s.x_train.dtype == torch.float32 and s.y_train.dtype == torch.float32
    assert s.num_classes == 0


def test_the_split_is_fixed_and_covers_every_row_once():
    a, b = data.load_diabetes(), data.load_diabetes()
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_val, b.y_val)
    raw = np.sort(sk_load(scaled=False).target)
    ours = torch.cat([a.to_original(y) for y in (a.y_train, a.y_val, a.y_test)])
    np.testing.assert_allclose(np.sort(ours.flatten().numpy()), raw, rtol=1e-5)


def test_standardised_with_training_statistics_only():
    s = data.load_diabetes()
    torch.testing.assert_close(s.x_train.mean(0), torch.zeros(10), atol=1e-5, rtol=0)
    torch.testing.assert_close(s.x_train.std(0, unbiased=False), torch.ones(10), atol=1e-5, rtol=0)
    assert abs(s.y_train.mean().item()) < 1e-5
    assert abs(s.y_train.std(unbiased=False).item() - 1) < 1e-5
    # validation and test are not standardised on their own statistics
    assert s.x_val.mean(0).abs().max() > 1e-3 and abs(s.y_test.mean().item()) > 1e-3
    # the statistics are those of the raw training rows
    raw = sk_load(scaled=False)
    x_train_raw = s.x_train.double() * s.x_std.double() + s.x_mean.double()
    nearest = torch.cdist(x_train_raw, torch.from_numpy(raw.data)).min(dim=1).values
    assert nearest.max().item() < 1e-2  # every training row is a raw row (float32 rounding)
    torch.testing.assert_close(s.x_mean.double(), x_train_raw.mean(0), rtol=1e-5, atol=1e-4)


def test_to_original_undoes_the_target_standardisation():
    s = data.load_diabetes()
    y = s.to_original(s.y_train)
    assert 24.99 <= y.min().item() and y.max().item() <= 346.01
    assert abs(y.mean().item() - s.y_mean) < 1e-3


@pytest.mark.parametrize("bad", [dict(val_size=0), dict(test_size=500), dict(val_size=1.5)])
def test_bad_sizes_raise_a_clear_error(bad):
    with pytest.raises(ValueError, match="val_size and test_size"):
        data.load_diabetes(**bad)
