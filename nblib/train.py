"""The one training loop of the book: ``fit`` and ``evaluate``.

``fit`` trains any ``nn.Module`` for a number of epochs or of optimizer steps, evaluates on a
validation loader at regular intervals, optionally clips the gradient norm and stops early,
and returns a ``History`` of losses and metrics. It runs on whatever device the model is on
(batches are moved there) and, on the CPU, is deterministic for a given seed: the only
randomness is the loader's seeded shuffling and the model's own (dropout), which
``nblib.config.seed_everything`` fixes.

The step losses stay on the device and are read back once per evaluation interval: a
``loss.item()`` at every step would make the CPU wait for the GPU at every step. The
divergence check (a non-finite loss stops training with advice) runs on those read-back values.

A ``tqdm.auto`` progress bar is shown in interactive sessions and hidden when ``CI`` or
``NBLIB_QUIET=1`` is set (the Makefile sets it for tests and the book build), or with
``progress=False``.
"""
from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

__all__ = ["History", "fit", "evaluate", "accuracy", "model_device"]


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of rows of ``logits`` (N, C) whose argmax equals ``target`` (N,)."""
    if logits.ndim != 2 or target.ndim != 1 or logits.shape[0] != target.shape[0]:
        raise ValueError(f"accuracy expects logits (N, C) and target (N,), got {tuple(logits.shape)} "
                         f"and {tuple(target.shape)}")
    return (logits.argmax(dim=1) == target).float().mean().item()


@dataclass
class History:
    """What happened during ``fit``: one entry per evaluation, plus every step's loss.

    ``history["val_acc"]`` is the list of validation accuracies, ``history.step`` the optimizer
    step at which each evaluation happened, ``history.step_loss`` the loss of every step.
    """

    step: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    step_loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    best_step: int | None = None
    stopped_early: bool = False

    def log(self, step: int, values: dict[str, float]) -> None:
        self.step.append(step)
        for key, value in values.items():
            self.metrics.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        if key not in self.metrics:
            raise KeyError(f"no metric {key!r} in history; recorded: {', '.join(self.metrics) or 'none'}")
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def last(self, key: str) -> float:
        return self[key][-1]

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.metrics.items())
        return f"History(evaluations={len(self.step)}, steps={len(self.step_loss)}, {last})"


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer)."""
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    raise ValueError(f"{type(model).__name__} has no parameters or buffers, so it has no device")


def _quiet() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("NBLIB_QUIET", "") not in ("", "0")


def _describe(t) -> str:
    if isinstance(t, torch.Tensor):
        return f"{tuple(t.shape)} {str(t.dtype).replace('torch.', '')}"
    return type(t).__name__


def _forward_loss(model, loss_fn, x, y, first: bool):
    """``loss_fn(model(x), y)``; on the first batch a failure is re-raised naming the shapes."""
    if not first:
        out = model(x)
        return out, loss_fn(out, y)
    try:
        out = model(x)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(f"{type(model).__name__} failed on inputs of shape/dtype {_describe(x)}: {err}") from err
    try:
        loss = loss_fn(out, y)
    except (RuntimeError, ValueError, IndexError, TypeError) as err:
        raise ValueError(f"loss_fn failed on model outputs {_describe(out)} and targets {_describe(y)}: {err}") from err
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
        raise ValueError(f"loss_fn must return a scalar tensor, got {_describe(loss)}")
    return out, loss


def _check_batch(batch, where: str):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"{where} must yield (inputs, targets) pairs, got {type(batch).__name__}"
                         + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else ""))
    return batch


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable,
             metrics: dict[str, Callable] | None = None) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader`` (weighted by batch size), in eval mode."""
    metrics = {"acc": accuracy} if metrics is None else metrics
    dev = model_device(model)
    was_training = model.training
    model.eval()
    totals = {"loss": 0.0, **{k: 0.0 for k in metrics}}
    count = 0
    try:
        for batch in loader:
            x, y = _check_batch(batch, "the evaluation loader")
            x, y = x.to(dev), y.to(dev)
            out, loss = _forward_loss(model, loss_fn, x, y, first=count == 0)
            n = y.shape[0]
            totals["loss"] += loss.item() * n
            for name, fn in metrics.items():
                totals[name] += fn(out, y) * n
            count += n
    finally:  # also after an error: a model left in eval mode would train without dropout
        model.train(was_training)
    if count == 0:
        raise ValueError("the evaluation loader is empty")
    return {k: v / count for k, v in totals.items()}


class _Pending:
    """Scalars of one evaluation interval, kept on their device until ``read`` (one sync, not one per step).

    ``loss.item()`` at every step would make the CPU wait for the GPU at every step; here each
    step only copies its scalar into a device buffer of the interval's length.
    """

    def __init__(self):
        self.buffer, self.count = None, 0

    def add(self, value: torch.Tensor, interval: int) -> None:
        if self.buffer is None:  # the interval's first step: a buffer of the value's dtype and device
            self.buffer = torch.empty(interval, dtype=value.dtype, device=value.device)  # (interval,)
        self.buffer[self.count] = value
        self.count += 1

    def read(self) -> list[float]:
        values = [] if self.buffer is None else self.buffer[:self.count].tolist()
        self.buffer, self.count = None, 0
        return values


def fit(model: nn.Module, train_loader, *, loss_fn: Callable, optimizer: torch.optim.Optimizer,
        epochs: int | None = None, steps: int | None = None, val_loader=None,
        metrics: dict[str, Callable] | None = None, eval_every: int | None = None,
        clip_grad_norm: float | None = None, scheduler=None, patience: int | None = None,
        monitor: str = "val_loss", progress: bool | None = None) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` or for ``steps`` optimizer steps.

    Every ``eval_every`` steps (default: once per epoch) the mean training loss since the last
    evaluation is logged as ``train_loss``, and, with a ``val_loader``, the validation loss and
    ``metrics`` as ``val_loss``, ``val_<name>``. ``clip_grad_norm`` rescales the gradient to at
    most that global norm (Pascanu et al. 2013); the norms before clipping go to
    ``history.grad_norm``. With ``patience``, training stops after that many evaluations without
    improvement of ``monitor`` and the best weights are restored (early stopping). Step losses and
    norms are read from the device at each evaluation, not at every step, so a non-finite loss
    raises ``FloatingPointError`` at the end of the interval in which it happened.
    """
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of epochs or steps, got epochs={epochs!r}, steps={steps!r}")
    for name, value in (("epochs", epochs), ("steps", steps), ("eval_every", eval_every), ("patience", patience)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be > 0, got {clip_grad_norm!r}")
    if patience is not None and val_loader is None and monitor.startswith("val_"):
        raise ValueError(f"early stopping on {monitor!r} needs a val_loader")
    metrics = {"acc": accuracy} if metrics is None else metrics
    dev = model_device(model)
    batches_per_epoch = len(train_loader)
    if batches_per_epoch == 0:
        raise ValueError("train_loader is empty")
    total = steps if steps is not None else epochs * batches_per_epoch
    eval_every = eval_every or min(batches_per_epoch, total)
    lower_is_better = "loss" in monitor

    history = History()
    show = (not _quiet()) if progress is None else progress
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="training", leave=False, mininterval=0.5)
    best, best_state, bad_evals = math.inf, None, 0
    losses = _Pending()  # this interval's losses, on the device: read back once per evaluation
    norms = _Pending()
    step = 0
    model.train()
    while step < total:
        step_at_pass_start = step
        for batch in train_loader:
            x, y = _check_batch(batch, "train_loader")
            x, y = x.to(dev), y.to(dev)
            optimizer.zero_grad(set_to_none=True)
            _, loss = _forward_loss(model, loss_fn, x, y, first=step == 0)
            interval = min(eval_every - step % eval_every, total - step)  # steps until the next evaluation
            losses.add(loss.detach(), interval)
            loss.backward()
            if clip_grad_norm is not None:
                norms.add(nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm), interval)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            if show:
                bar.update(1)
            if step % eval_every == 0 or step == total:
                since = losses.read()  # the one host-device sync of the interval
                bad = next((i for i, v in enumerate(since) if not math.isfinite(v)), None)
                if bad is not None:
                    raise FloatingPointError(f"loss became {since[bad]} at step {step - len(since) + bad}: "
                                             "lower the learning rate or clip the gradient")
                history.step_loss.extend(since)
                history.grad_norm.extend(norms.read())
                if show:
                    bar.set_postfix(loss=f"{since[-1]:.4f}", refresh=False)
                values = {"train_loss": sum(since) / len(since)}
                if val_loader is not None:
                    values.update({f"val_{k}": v for k, v in evaluate(model, val_loader, loss_fn, metrics).items()})
                history.log(step, values)
                if patience is not None:
                    if monitor not in values:
                        raise KeyError(f"cannot monitor {monitor!r}; logged: {', '.join(values)}")
                    score = values[monitor] if lower_is_better else -values[monitor]
                    if score < best:
                        best, bad_evals, history.best_step = score, 0, step
                        best_state = copy.deepcopy(model.state_dict())
                    else:
                        bad_evals += 1
                        if bad_evals >= patience:
                            history.stopped_early = True
                            step = total
            if step >= total:
                break
        if step == step_at_pass_start:  # without this, an exhausted iterator would loop forever
            raise ValueError(f"train_loader yielded no batch on a new pass (after {step} steps); give fit a "
                             "re-iterable loader such as nblib.data.make_loader(...) or a DataLoader")
    if show:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
