"""nblib.data.sunspots: the 309 yearly values, a held-out final stretch, lag windows."""
import socket

import pytest
import torch

from nblib.data import sunspots


def test_loads_offline_309_years_with_the_final_stretch_held_out(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load_sunspots tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    d = sunspots.load_sunspots()
    assert len(d.values) == 309 and d.values.dtype == torch.float64
    assert d.years[0] == 1700 and d.years[-1] == 2008
    assert d.years[d.split] == 1969 and len(d.test_values) == 40
    assert torch.equal(torch.cat([d.train_values, d.test_values]), d.values)
    assert d.values[:3].tolist() == [5.0, 11.0, 16.0]


@pytest.mark.parametrize("n_test", [1, 25, 60])
def test_statistics_come_from_the_training_years_only(n_test):
    d = sunspots.load_sunspots(n_test)
    assert d.mean == pytest.approx(d.values[:-n_test].mean().item())
    assert d.std == pytest.approx(d.values[:-n_test].std().item())


@pytest.mark.parametrize("lags, start", [(1, None), (3, None), (11, 20), (5, 5)])
def test_lag_windows_hold_the_previous_values_oldest_first(lags, start):
    series = torch.arange(30.0) ** 2
    X, y = sunspots.lag_windows(series, lags, start)
    first = lags if start is None else start
    assert X.shape == (30 - first, lags) and y.shape == (30 - first,)
    for row, t in zip(range(len(y)), range(first, 30)):
        assert y[row] == series[t]
        assert torch.equal(X[row], series[t - lags:t])


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="at least 30 training years"):
        sunspots.load_sunspots(300)
    with pytest.raises(ValueError, match="start must be an int >= 4"):
        sunspots.lag_windows(torch.arange(10.0), 4, start=2)
    with pytest.raises(ValueError, match="no window"):
        sunspots.lag_windows(torch.arange(10.0), 4, start=10)
