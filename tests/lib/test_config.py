"""nblib.config: device choice, reproducible seeds, the smoke switch."""
import random

import numpy as np
import pytest
import torch

from nblib import config
from devices import CUDA


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (True, False, "cuda"),
                                                 (False, True, "mps"), (False, False, "cpu")])
def test_device_is_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.delenv("NBLIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert config.device() == torch.device(expected)


def test_device_is_the_cpu_when_torch_has_no_mps_backend(monkeypatch):
    monkeypatch.delenv("NBLIB_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delattr(torch.backends, "mps")
    assert config.device() == torch.device("cpu")


def test_device_can_be_overridden_by_environment(monkeypatch):
    monkeypatch.setenv("NBLIB_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")


def test_unknown_device_name_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NBLIB_DEVICE", "tpu-please")
    with pytest.raises(ValueError, match="NBLIB_DEVICE must name a torch device.*'tpu-please'"):
        config.device()


def test_requesting_cuda_without_cuda_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NBLIB_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # whatever this machine has
    with pytest.raises(ValueError, match="NBLIB_DEVICE='cuda' but CUDA is not available"):
        config.device()


@pytest.mark.parametrize("requested", ["cuda", "cuda:1"])
def test_requesting_cuda_with_cuda_returns_that_device(monkeypatch, requested):
    monkeypatch.setenv("NBLIB_DEVICE", requested)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # naming a device needs no GPU
    assert config.device() == torch.device(requested)


def test_the_chosen_device_holds_tensors(monkeypatch):
    monkeypatch.delenv("NBLIB_DEVICE", raising=False)
    expected = "cuda" if CUDA else torch.ones(1, device=config.device()).device.type
    assert torch.ones(1, device=config.device()).device.type == expected


def test_seed_everything_makes_python_numpy_and_torch_repeat():
    def draw():
        config.seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    assert draw() == draw()


def test_seed_everything_returns_a_generator_seeded_alike():
    g = config.seed_everything(7)
    assert torch.equal(torch.rand(4, generator=g), torch.rand(4, generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("bad, error", [("0", TypeError), (1.5, TypeError), (True, TypeError), (-1, ValueError),
                                        (2**32, ValueError)])
def test_bad_seeds_are_rejected_with_the_value_received(bad, error):
    with pytest.raises(error, match="seed must be"):
        config.seed_everything(bad)


@pytest.mark.parametrize("env, flag, expected", [("", False, False), ("", True, True), ("1", False, True),
                                                 ("0", True, True), ("true", False, True)])
def test_smoke_is_on_from_the_parameter_or_the_environment(monkeypatch, env, flag, expected):
    monkeypatch.setenv("NBLIB_SMOKE", env)
    assert config.is_smoke(flag) is expected


def test_a_garbled_smoke_variable_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("NBLIB_SMOKE", "maybe")
    with pytest.raises(ValueError, match="NBLIB_SMOKE must be 0 or 1, got 'maybe'"):
        config.is_smoke()


def test_pick_chooses_the_smoke_value_only_in_smoke_mode():
    assert config.pick(6000, 20, False) == 6000 and config.pick(6000, 20, True) == 20
