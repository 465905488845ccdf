"""nblib.train: one loop for every chapter, reproducible on the CPU, with clear errors."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib import config, data, train
from devices import ELSEWHERE


def _digits_run(s, **kwargs):
    config.seed_everything(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    history = train.fit(model, s.loader("train", 64), loss_fn=F.cross_entropy, optimizer=opt,
                        val_loader=s.loader("val", 360), progress=False, **kwargs)
    return model, history, s


def test_fit_learns_and_logs_once_per_epoch_by_default(digits):
    model, h, s = _digits_run(digits, epochs=5)
    assert h.step == [17 * (i + 1) for i in range(5)]
    assert len(h.step_loss) == 85 and h["train_loss"][-1] < h["train_loss"][0]
    assert h.last("val_acc") > 0.85
    assert train.evaluate(model, s.loader("test", 360), F.cross_entropy)["acc"] > 0.85


def test_fit_is_deterministic_on_the_cpu_for_a_seed(digits):
    assert _digits_run(digits, steps=40)[1].step_loss == _digits_run(digits, steps=40)[1].step_loss


def test_fit_by_steps_with_evaluation_interval(digits):
    _, h, _ = _digits_run(digits, steps=30, eval_every=10)
    assert h.step == [10, 20, 30] and len(h.step_loss) == 30


def test_gradient_clipping_bounds_the_norm_and_records_it():
    config.seed_everything(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(64, 3) * 100, torch.randn(64, 1) * 100
    opt = torch.optim.SGD(model.parameters(), lr=1e-6)
    h = train.fit(model, data.make_loader(x, y, 16), loss_fn=F.mse_loss, optimizer=opt, steps=8,
                  clip_grad_norm=1.0, progress=False, metrics={})
    assert len(h.grad_norm) == 8 and max(h.grad_norm) > 1.0
    total = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))
    assert total <= 1.0 + 1e-5


def test_early_stopping_restores_the_best_weights(digits):
    model, h, s = _digits_run(digits, epochs=60, patience=2, monitor="val_acc")
    assert h.best_step is not None
    best = max(h["val_acc"])
    assert train.evaluate(model, s.loader("val", 360), F.cross_entropy)["acc"] == pytest.approx(best)


class _Stop(Exception):
    """Raised by a probe to end a run once it has seen what it came for."""


class _DeviceProbe(nn.Module):
    """A linear model that records, at each forward call, where its input and its weight are."""

    def __init__(self, device):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(3, 4, device=device))
        self.seen = []

    def forward(self, x):
        self.seen.append(("x", x.device, self.weight.device))
        assert x.device == self.weight.device, f"the batch is on {x.device}, the model on {self.weight.device}"
        return x @ self.weight.T  # (B, 3)


def _stop_at_call(n, seen):
    """A loss function that records where outputs and targets are and raises _Stop at its n-th call."""
    def loss_fn(out, y):
        seen.append(("out", out.device, y.device))
        assert y.device == out.device, f"the targets are on {y.device}, the outputs on {out.device}"
        if len(seen) >= n:
            raise _Stop
        return F.cross_entropy(out, y)

    return loss_fn


_DEVICES = ELSEWHERE


@pytest.mark.parametrize("device", _DEVICES)
def test_fit_moves_every_batch_to_the_model_and_leaves_the_model_where_it_is(device):
    # The batches start on the CPU and the model is elsewhere ("meta" needs no GPU: its tensors have
    # shapes but no values), so a batch that is not moved meets the weight on another device.
    model = _DeviceProbe(device)
    loader = data.make_loader(torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), 4)
    seen = []
    with pytest.raises(_Stop):  # two full steps (forward, backward, optimizer step), stopped in the third
        train.fit(model, loader, loss_fn=_stop_at_call(3, seen), optimizer=torch.optim.SGD(model.parameters(), 0.1),
                  steps=5, eval_every=5, progress=False)
    dev = torch.device(device)
    assert len(model.seen) == 3 and all(x == w == dev for _, x, w in model.seen), model.seen
    assert all(out == y == dev for _, out, y in seen), seen


@pytest.mark.parametrize("device", _DEVICES)
def test_evaluate_moves_every_batch_to_the_model(device):
    model = _DeviceProbe(device)
    loader = data.make_loader(torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]), 4)
    seen = []

    def loss_fn(out, y):  # a CPU scalar, so that evaluate can read it even from the meta device
        seen.append(("out", out.device, y.device))
        assert y.device == out.device, f"the targets are on {y.device}, the outputs on {out.device}"
        return torch.zeros(())

    assert train.evaluate(model, loader, loss_fn, metrics={}) == {"loss": 0.0}
    dev = torch.device(device)
    assert len(model.seen) == 2 and all(x == w == dev for _, x, w in model.seen), model.seen
    assert all(out == y == dev for _, out, y in seen), seen


def test_model_device_is_where_the_parameters_are():
    assert train.model_device(nn.Linear(2, 2, device="meta")) == torch.device("meta")
    assert train.model_device(nn.BatchNorm1d(2, affine=False)) == torch.device("cpu")  # buffers only
    with pytest.raises(ValueError, match="ReLU has no parameters or buffers"):
        train.model_device(nn.ReLU())


def test_fit_reads_the_losses_back_once_per_evaluation_not_once_per_step(monkeypatch):
    # On a GPU, every .item() (or float(), bool(), .tolist()) of a device tensor makes the CPU wait
    # for the GPU; fit must not do that at every step. Count such reads over 50 steps, 2 evaluations.
    config.seed_everything(0)
    model = nn.Linear(3, 1)
    loader = data.make_loader(torch.randn(64, 3), torch.randn(64, 1), 8)
    reads = {name: 0 for name in ("item", "tolist", "__bool__", "__float__", "__int__", "numpy")}
    for name in reads:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _name=name, _original=original, **kwargs):
            reads[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    h = train.fit(model, loader, loss_fn=F.mse_loss, optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                  steps=50, eval_every=25, clip_grad_norm=10.0, progress=False, metrics={})
    monkeypatch.undo()
    assert sum(reads.values()) <= 2 * len(h.step), f"host reads during fit: {reads}"
    assert reads["item"] == 0, f"Tensor.item called {reads['item']} times in 50 steps"
    assert h.step == [25, 50] and len(h.step_loss) == len(h.grad_norm) == 50
    assert h["train_loss"] == [sum(h.step_loss[:25]) / 25, sum(h.step_loss[25:]) / 25]


def test_step_losses_are_the_losses_of_each_step():
    # What the history reads back at the evaluations is, step by step, what .item() would have read.
    config.seed_everything(0)
    model = nn.Linear(3, 1)
    x, y = torch.randn(12, 3), torch.randn(12, 1)
    expected, reference = [], copy.deepcopy(model)
    opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    for xb, yb in data.make_loader(x, y, 4, shuffle=False):
        opt.zero_grad()
        loss = F.mse_loss(reference(xb), yb)
        expected.append(loss.item())
        loss.backward()
        opt.step()
    h = train.fit(model, data.make_loader(x, y, 4, shuffle=False), loss_fn=F.mse_loss,
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.1), steps=3, eval_every=2, progress=False,
                  metrics={})
    assert h.step_loss == expected and h.step == [2, 3]


def test_wrong_input_shape_is_a_clear_error_not_a_torch_trace():
    model = nn.Linear(64, 10)
    loader = data.make_loader(torch.zeros(8, 40), torch.zeros(8, dtype=torch.long), 4)
    with pytest.raises(ValueError, match=r"Linear failed on inputs of shape/dtype \(4, 40\) float32"):
        train.fit(model, loader, loss_fn=F.cross_entropy, optimizer=torch.optim.SGD(model.parameters(), 0.1),
                  steps=1, progress=False)


def test_evaluate_restores_training_mode_even_when_it_fails():
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5))  # eval mode would silently switch dropout off
    model.train()
    bad = [(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long))]
    with pytest.raises(ValueError, match=r"\(2, 5\) float32"):
        train.evaluate(model, bad, F.cross_entropy)
    assert model.training and model[1].training


def test_mismatched_targets_are_a_clear_error():
    model = nn.Linear(4, 3)
    loader = data.make_loader(torch.zeros(8, 4), torch.zeros(8, 5), 4)
    with pytest.raises(ValueError, match=r"loss_fn failed on model outputs \(4, 3\) float32 and targets \(4, 5\)"):
        train.evaluate(model, loader, F.cross_entropy)


@pytest.mark.parametrize("kwargs, message", [
    ({}, "give exactly one of epochs or steps"),
    ({"epochs": 1, "steps": 1}, "give exactly one of epochs or steps"),
    ({"epochs": 0}, "epochs must be a positive int, got 0"),
    ({"steps": 5, "clip_grad_norm": -1.0}, "clip_grad_norm must be > 0"),
    ({"steps": 5, "patience": 3}, "needs a val_loader"),
])
def test_bad_arguments_are_clear_errors(kwargs, message):
    model = nn.Linear(2, 2)
    loader = data.make_loader(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=message):
        train.fit(model, loader, loss_fn=F.cross_entropy, optimizer=torch.optim.SGD(model.parameters(), 0.1),
                  progress=False, **kwargs)


def test_diverging_training_stops_with_advice():
    model = nn.Linear(1, 1)
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    loader = data.make_loader(x * 1e3, x * 1e3, 8)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train.fit(model, loader, loss_fn=F.mse_loss, optimizer=torch.optim.SGD(model.parameters(), lr=10.0),
                  steps=200, progress=False, metrics={})


def test_accuracy_checks_shapes():
    assert train.accuracy(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([1, 1])) == 0.5
    with pytest.raises(ValueError, match=r"logits \(N, C\) and target \(N,\), got \(2,\) and \(2,\)"):
        train.accuracy(torch.zeros(2), torch.zeros(2))


def test_history_names_what_it_recorded(digits):
    _, h, _ = _digits_run(digits, steps=17)
    with pytest.raises(KeyError, match="no metric 'val_f1'.*recorded: train_loss, val_loss, val_acc"):
        h["val_f1"]
    assert "val_acc=" in repr(h)


def test_a_loader_that_runs_dry_is_an_error_not_an_endless_loop():
    class OneShot:  # has a length, but a second pass yields nothing (like an exhausted iterator)
        def __init__(self):
            self.it = iter([(torch.randn(2, 4), torch.tensor([0, 1]))] * 2)

        def __len__(self):
            return 2

        def __iter__(self):
            return self.it

    model = nn.Linear(4, 2)
    with pytest.raises(ValueError, match="train_loader yielded no batch"):
        train.fit(model, OneShot(), loss_fn=F.cross_entropy, optimizer=torch.optim.SGD(model.parameters(), 0.1),
                  steps=5, progress=False)
