"""Specification: the per-call path of losses, activations, forward passes and optimizer steps
never reads a tensor's values on the host.

On a GPU, every such read (``.item()``, ``int(t)``, ``float(t)``, ``bool(t)``, ``if t > 0:``,
``t.tolist()``) is a host-device synchronisation: the host waits for every queued kernel, which
inside a training loop can cost more than the step. ``nblib.validate`` runs value checks (class
indices within [0, C)) only on CPU tensors, where they are free.

How this is tested on every machine, GPU or not: the calls run on "meta" tensors, which have a
shape, a dtype and a device but no data, so any value read fails; and torch.Tensor's value
readers are replaced by recorders, so a failure names the read. A re-added
``int(target.min())`` in ``cross_entropy`` fails here on a CPU-only machine. Where CUDA exists,
the same calls also run under ``torch.cuda.set_sync_debug_mode("error")``.
"""
import contextlib

import pytest
import torch

from nblib import optim, validate
from nblib.nn import functional as nf
from nblib.nn.mlp import MLP, LogisticRegression, Mnist1dMLP, ScratchMLP, softmax_cross_entropy_grad
from devices import ELSEWHERE

VALUE_READERS = ("item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__")


@contextlib.contextmanager
def recording_value_reads(monkeypatch):
    """Record every call of a value reader of torch.Tensor (and still make the call)."""
    reads: list[str] = []
    with monkeypatch.context() as patch:
        for name in VALUE_READERS:
            original = getattr(torch.Tensor, name)

            def recorder(self, *args, _name=name, _original=original, **kwargs):
                reads.append(f"Tensor.{_name} on {self.device}")
                return _original(self, *args, **kwargs)

            patch.setattr(torch.Tensor, name, recorder)
        yield reads


def per_call_paths(device: str):
    """(name, thunk) for every function that runs once per training step."""
    g = torch.Generator().manual_seed(0)

    def t(*shape, **kw):
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(device).requires_grad_(
            kw.get("grad", False))

    x, logits = t(6, 4), t(6, 5, grad=True)
    target = torch.randint(0, 5, (6,), generator=g).to(device)
    paths = [(f"{name}{suffix}", (lambda f=f: f(x)))
             for name, (act, grad) in nf.ACTIVATIONS.items() for f, suffix in ((act, ""), (grad, "_grad"))]
    paths += [
        ("gelu tanh", lambda: nf.gelu(x, approximate="tanh")),
        ("softmax", lambda: nf.softmax(x, dim=1)),
        ("log_softmax", lambda: nf.log_softmax(x, dim=0)),
        ("logsumexp", lambda: nf.logsumexp(x)),
        ("mse_loss", lambda: nf.mse_loss(x, x + 1)),
        ("binary_cross_entropy_with_logits", lambda: nf.binary_cross_entropy_with_logits(x, torch.sigmoid(x))),
    ]
    for reduction in ("mean", "sum", "none"):
        paths.append((f"cross_entropy {reduction}",
                      lambda r=reduction: nf.cross_entropy(logits, target, reduction=r).sum().backward()))
    paths.append(("softmax_cross_entropy_grad", lambda: softmax_cross_entropy_grad(logits.detach(), target)))
    paths.append(("softmax_cross_entropy_grad int32",
                  lambda: softmax_cross_entropy_grad(logits.detach(), target.to(torch.int32))))

    def scratch_step():
        net = ScratchMLP([4, 8, 5], dtype=torch.float64, device=device, generator=g)
        out = net(x)
        _, dlogits = softmax_cross_entropy_grad(out, target)
        net.backward(dlogits)
        net.step(0.1)
    paths.append(("ScratchMLP forward/backward/step", scratch_step))
    for model in (MLP([4, 8, 5], dropout=0.1), LogisticRegression(4, 5), Mnist1dMLP(4, 8, 5)):
        model = model.to(device=device, dtype=torch.float64)
        paths.append((f"{type(model).__name__} forward",
                      lambda m=model: nf.cross_entropy(m(x), target).backward()))
    for cls, kwargs in [(optim.SGD, dict(lr=0.1)),
                        (optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)),
                        (optim.RMSprop, dict(momentum=0.5, centered=True, weight_decay=0.1)),
                        (optim.Adam, dict(weight_decay=0.1, amsgrad=True)),
                        (optim.AdamW, dict())]:
        def steps(cls=cls, kwargs=kwargs):
            p = t(3, 2, grad=True)
            opt = cls([p], **kwargs)
            for _ in range(2):
                p.grad = torch.ones_like(p)
                opt.step()
            opt.zero_grad()
        paths.append((f"{cls.__name__} step {kwargs}", steps))
    return paths


META_PATHS = per_call_paths("meta")


@pytest.mark.parametrize("name, call", META_PATHS, ids=[n for n, _ in META_PATHS])
def test_no_value_is_read_on_the_host(name, call, monkeypatch):
    with recording_value_reads(monkeypatch) as reads:
        try:
            call()
            error = None
        except Exception as e:  # a meta tensor refuses value reads that bypass Python (C++ .item())
            error = e
    assert not reads, f"{name} reads tensor values on the host (a GPU sync per call): {reads}"
    assert error is None, f"{name} failed on data-less (meta) tensors: {error!r}"


@pytest.mark.parametrize("device", ELSEWHERE)
def test_no_sync_on_another_device(device):
    """Every per-call path runs on each device this machine has besides the CPU: on "meta"
    (above, with the host reads recorded) and, on a GPU, under torch's sync debug mode."""
    paths = per_call_paths(device)
    assert [n for n, _ in paths] == [n for n, _ in META_PATHS]
    if device != "cuda":
        return
    for name, call in paths:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            call()
        except RuntimeError as err:
            raise AssertionError(f"{name} synchronises with the GPU: {err}") from None
        finally:
            torch.cuda.set_sync_debug_mode(0)


def test_value_checks_run_where_they_are_free():
    """On the CPU the class-index range is checked; on a device it is left to torch's assert."""
    logits = torch.zeros(3, 4)
    with pytest.raises(IndexError, match=r"class index 7 is out of range"):
        nf.cross_entropy(logits, torch.tensor([0, 7, 1]))
    assert validate.free_to_read(torch.zeros(1)) and not validate.free_to_read(torch.zeros(1, device="meta"))
    # a metadata error is still reported on any device
    with pytest.raises(TypeError, match=r"target needs an int64 tensor, got torch.float32"):
        nf.cross_entropy(logits.to("meta"), torch.zeros(3, device="meta"))


def test_the_recorder_catches_a_host_read(monkeypatch):
    """The test above is not vacuous: a host read on a meta tensor is recorded."""
    t = torch.zeros(3, dtype=torch.int64, device="meta")
    with recording_value_reads(monkeypatch) as reads:
        with pytest.raises(Exception):
            int(t.min())
    assert reads == ["Tensor.__int__ on meta"]
