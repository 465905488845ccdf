"""``nblib.start``: the one call at the top of every chapter.

    run = nblib.start(CHAPTER, seed=SEED, smoke=SMOKE)

does, in this order: the book's plot style (and, on Colab, the widget manager the steppers
need); the smoke switch (the ``smoke`` parameter or ``NBLIB_SMOKE=1``); the device (CUDA, then
MPS, then the CPU, or ``NBLIB_DEVICE``); the seeds of Python, NumPy and PyTorch; and a fresh
results file for the chapter, which records the device and the settings. The returned ``Run``
holds what the chapter needs afterwards::

    run.device, run.smoke, run.seed
    steps = run.pick(6000, 50)                   # full settings, or the smoke setting
    run.record("mnist1d_mlp_test_acc", 65.3, "%", published=68.0,
               source="Greydanus & Kobak (2020), MNIST-1D, Table 1")
    run.finish()                                  # the last cell: records the run time
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from nblib import config, plot, results

__all__ = ["Run", "start"]


@dataclass(frozen=True)
class Run:
    """One execution of one chapter: its name, seed, smoke switch and device."""

    chapter: str
    seed: int
    smoke: bool
    device: torch.device

    def pick(self, full, smoke):
        """``smoke`` in smoke mode, else ``full``: ``steps = run.pick(6000, 50)``."""
        return config.pick(full, smoke, self.smoke)

    def record(self, name: str, value, unit: str = "", *, published: float | None = None,
               source: str | None = None):
        """Record a headline number of this chapter (see :func:`nblib.results.record`)."""
        return results.record(self.chapter, name, value, unit, published=published, source=source)

    def finish(self) -> float:
        """Record the chapter's run time (seconds since ``start``) and return it."""
        return results.finish(self.chapter)


def _enable_colab_widgets() -> None:
    try:
        from google.colab import output  # type: ignore[import-not-found]
    except ImportError:
        return
    output.enable_custom_widget_manager()


def start(chapter: str, *, seed: int = 0, smoke: bool = False) -> Run:
    """Set up a chapter in one call; see the module docstring. Prints one line of settings."""
    plot.use_style()
    _enable_colab_widgets()
    smoke = config.is_smoke(smoke)
    device = config.device()
    config.seed_everything(seed)
    results.start(chapter, device=config.describe_device(device), smoke=smoke, seed=seed)
    print(f"{chapter}: device {config.describe_device(device)}, seed {seed}, "
          f"{'smoke settings (numbers are not meaningful)' if smoke else 'full settings'}")
    return Run(chapter, seed, smoke, device)
