"""Shared test configuration and fixtures.

``tests/fixtures`` holds notebooks and grading files used as *data* by the tests: never
collect them as tests themselves.

Fixtures:

* ``mnist1d``, ``digits``: the default ``nblib.data`` datasets, loaded once per test session for
  the tests that use them rather than test loading itself. They are shared: do not modify them.
* ``on_another_device``: wraps a CPU tensor so that it behaves like a tensor on another device
  (a CUDA tensor seen from CPU code), so that device handling can fail on a CPU-only machine.
"""
import os

import matplotlib
import pytest
import torch
from torch.utils._pytree import tree_flatten

matplotlib.use("Agg")  # tests never open windows
os.environ.setdefault("NBLIB_QUIET", "1")

collect_ignore = ["fixtures"]


@pytest.fixture(scope="session")
def mnist1d():
    """``data.load_mnist1d()``, once per session (4000 train and 1000 test signals of length 40)."""
    from nblib import data

    return data.load_mnist1d()


@pytest.fixture(scope="session")
def digits():
    """``data.load_digits()``, once per session (1077 / 360 / 360 flattened 8x8 images)."""
    from nblib import data

    return data.load_digits()


class ElsewhereTensor(torch.Tensor):
    """A CPU tensor that acts as if it lived on another device, as a CUDA tensor does for CPU code.

    An operation that mixes it with an ordinary tensor of one or more dimensions raises the
    error PyTorch raises for mixed devices (0-dim CPU tensors may mix, as with CUDA);
    ``.numpy()`` refuses; only ``.cpu()`` and ``.to("cpu", ...)`` bring it back as an ordinary
    tensor (a copy). Results of operations on it stay "elsewhere".
    """

    @staticmethod
    def _names_cpu(args, kwargs) -> bool:
        targets = [*args, kwargs.get("device")]
        return any(isinstance(t, (str, torch.device)) and torch.device(t).type == "cpu" for t in targets)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.cpu or (func is torch.Tensor.to and cls._names_cpu(args[1:], kwargs)):
            with torch._C.DisableTorchFunctionSubclass():
                return func(*args, **kwargs).clone()
        if func is torch.Tensor.numpy:
            raise TypeError("can't convert elsewhere device type tensor to numpy. Use Tensor.cpu() to copy the "
                            "tensor to host memory first.")
        tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
        if any(isinstance(t, cls) for t in tensors) and any(not isinstance(t, cls) and t.dim() > 0
                                                             for t in tensors):
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                               "elsewhere and cpu!")
        return super().__torch_function__(func, types, args, kwargs)


@pytest.fixture
def on_another_device():
    """``on_another_device(t)``: ``t`` as if it were on another device (see ``ElsewhereTensor``)."""
    def move(t: torch.Tensor) -> torch.Tensor:
        return t.as_subclass(ElsewhereTensor)

    return move
