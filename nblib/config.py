"""Run-time configuration shared by every chapter: device, seeds and the smoke switch.

* ``device()`` picks CUDA, then Apple's MPS, then the CPU. Set ``NBLIB_DEVICE`` (for example
  ``cpu`` or ``cuda:1``) to override the choice.
* ``seed_everything(seed)`` seeds Python, NumPy and PyTorch so that a CPU run reproduces its
  numbers exactly.
* ``is_smoke(flag)`` is the smoke switch: ``True`` when the notebook parameter asks for it or
  the environment has ``NBLIB_SMOKE=1``. Chapters use it to shrink every experiment to a few
  steps so the whole book can be checked in a minute; results in smoke mode are not meaningful.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["device", "describe_device", "seed_everything", "is_smoke", "pick"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def device() -> torch.device:
    """Return the best available device: ``$NBLIB_DEVICE`` if set, else CUDA, MPS, CPU."""
    requested = os.environ.get("NBLIB_DEVICE", "").strip()
    if requested:
        try:
            dev = torch.device(requested)
        except RuntimeError as err:
            raise ValueError(
                f"NBLIB_DEVICE must name a torch device such as 'cpu' or 'cuda:0', got {requested!r}"
            ) from err
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"NBLIB_DEVICE={requested!r} but CUDA is not available on this machine")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(dev: torch.device) -> str:
    """``'cpu'``, ``'cuda (NVIDIA H200)'``, ``'mps'``: the device as the results record it."""
    dev = torch.device(dev)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    return dev.type


def seed_everything(seed: int) -> torch.Generator:
    """Seed ``random``, NumPy and PyTorch (all devices); return a CPU generator seeded alike.

    With the same seed, a run on the CPU reproduces its numbers bit for bit. GPU kernels may
    still differ in the last bits between runs and machines.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} ({seed!r})")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def is_smoke(flag: bool = False) -> bool:
    """True when smoke mode is on: the notebook parameter ``flag`` or ``NBLIB_SMOKE=1``."""
    value = os.environ.get("NBLIB_SMOKE", "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"NBLIB_SMOKE must be 0 or 1, got {value!r}")
    return bool(flag) or value in _TRUE


def pick(full, smoke, smoke_mode: bool):
    """Return ``smoke`` in smoke mode, else ``full``: ``steps = pick(6000, 50, SMOKE)``."""
    return smoke if smoke_mode else full
