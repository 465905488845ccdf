"""Batch normalisation from scratch (Ioffe & Szegedy, "Batch Normalization: Accelerating Deep
Network Training by Reducing Internal Covariate Shift", ICML 2015).

For an input with channels on dimension 1, ``(N, C)``, ``(N, C, L)`` or ``(N, C, H, W)``, each
channel ``c`` is normalised with statistics taken over every other dimension (the batch and the
positions: ``m = N`` or ``N*L`` or ``N*H*W`` values per channel)::

    mu_c     = mean of x[:, c]                         (over m values)
    var_c    = mean of (x[:, c] - mu_c)^2              biased: divides by m
    y[:, c]  = gamma_c * (x[:, c] - mu_c) / sqrt(var_c + eps) + beta_c

In training mode the batch's own statistics are used, and exponential moving averages are
kept for inference::

    running_mean <- (1 - momentum) * running_mean + momentum * mu
    running_var  <- (1 - momentum) * running_var  + momentum * var * m / (m - 1)   # unbiased

(``momentum=None``: a plain cumulative average over the batches seen so far.) In eval mode the
running averages replace the batch statistics, so the output of one example no longer depends on
the rest of its batch. PyTorch's ``momentum`` is the weight of the *new* value: 0.1 keeps 90 % of
the old average, the opposite of the optimizer convention. ``BatchNorm1d``/``BatchNorm2d`` have
the parameters, buffers and ``state_dict`` keys of ``torch.nn.BatchNorm1d``/``BatchNorm2d``.
"""
from __future__ import annotations

import torch
from torch import nn

from nblib import validate

__all__ = ["batch_norm", "BatchNorm1d", "BatchNorm2d"]


def batch_norm(x: torch.Tensor, running_mean: torch.Tensor | None, running_var: torch.Tensor | None,
               weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """Batch normalisation of ``x`` (N, C, *) over every dimension but 1, like ``F.batch_norm``.

    ``training=True`` normalises with the batch's statistics and, when running buffers are
    given, updates them in place (``momentum`` is the weight of the new batch). With
    ``training=False`` the running buffers are used and must be given.
    """
    validate.tensor("x", x, floating=True)
    if x.ndim < 2:
        raise ValueError(f"batch_norm expects x of shape (N, C) or (N, C, *), got {tuple(x.shape)}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None:
            validate.tensor(name, t, shape=(c,))
    if (running_mean is None) != (running_var is None):
        raise ValueError("give both running_mean and running_var, or neither")
    dims = [0, *range(2, x.ndim)]                   # every dimension but the channels
    shape = (1, c) + (1,) * (x.ndim - 2)            # broadcasts a (C,) vector over x
    if training:
        m = x.numel() // c                          # values per channel
        if m <= 1:
            raise ValueError(f"batch_norm in training mode needs more than 1 value per channel, got input "
                             f"of shape {tuple(x.shape)}; use a larger batch or eval mode")
        mean = x.mean(dim=dims)                                 # (C,)
        var = ((x - mean.view(shape)) ** 2).mean(dim=dims)      # (C,), biased
        if running_mean is not None:
            with torch.no_grad():                   # the buffers are statistics, not part of the graph
                running_mean.mul_(1 - momentum).add_(momentum * mean)
                running_var.mul_(1 - momentum).add_(momentum * var * (m / (m - 1)))
    else:
        if running_mean is None:
            raise ValueError("batch_norm in eval mode (training=False) needs running_mean and running_var")
        mean, var = running_mean, running_var
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)  # (N, C, *), zero mean, unit var
    if weight is not None:
        y = y * weight.view(shape)
    if bias is not None:
        y = y + bias.view(shape)
    return y


class _BatchNorm(nn.Module):
    """Shared by ``BatchNorm1d`` and ``BatchNorm2d`` (they differ only in the accepted ranks)."""

    ranks: tuple[int, ...] = ()
    expected: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        validate.positive_int("num_features", num_features)
        validate.number("eps", eps, gt=0)
        if momentum is not None:
            validate.number("momentum", momentum, ge=0, le=1)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        kw = dict(device=device, dtype=dtype)
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features, **kw))   # gamma (C,)
            self.bias = nn.Parameter(torch.zeros(num_features, **kw))    # beta (C,)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **kw))
            self.register_buffer("running_var", torch.ones(num_features, **kw))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        validate.tensor("x", x, floating=True)
        if x.ndim not in self.ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}) expects {self.expected} with "
                             f"C = {self.num_features}, got {tuple(x.shape)}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if momentum is None:  # cumulative average: the k-th batch gets weight 1/k (a tensor: no sync)
                momentum = 1.0 / self.num_batches_tracked.to(self.running_mean.dtype)
        # Batch statistics in training mode, and always when no running statistics are kept.
        use_batch = self.training or not self.track_running_stats
        update = self.training and self.track_running_stats
        return batch_norm(x, self.running_mean if update or not use_batch else None,
                          self.running_var if update or not use_batch else None,
                          self.weight, self.bias, training=use_batch, momentum=momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs, like ``torch.nn.BatchNorm1d``."""

    ranks, expected = (2, 3), "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` images, like ``torch.nn.BatchNorm2d``."""

    ranks, expected = (4,), "(N, C, H, W)"
