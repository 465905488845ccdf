"""Specification of nblib.optim: step-for-step the same numbers as torch.optim."""
import pytest
import torch

from nblib import optim
from devices import ALL

SHAPES = [(3, 4), (5,), (2, 2, 2)]
N_STEPS = 25

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1, nesterov=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.05, alpha=0.9, eps=1e-6)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.5)),
    ("RMSprop", dict(lr=0.02, centered=True, momentum=0.7, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=1e-2, weight_decay=0.1)),
    ("Adam", dict(lr=1e-2, amsgrad=True)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.05, betas=(0.5, 0.9))),
    ("AdamW", dict()),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1)),
    ("AdamW", dict(lr=1e-2, weight_decay=0.1, amsgrad=True)),
]


def make_params(seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64).requires_grad_() for s in SHAPES]


def two_groups(params, lr):
    """Two parameter groups, the second with half the learning rate."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": lr / 2}]


@pytest.mark.parametrize("name, kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_every_step_matches_torch_optim(name, kwargs):
    ours_params, torch_params = make_params(0), make_params(0)
    lr = kwargs.get("lr", {"RMSprop": 1e-2}.get(name, 1e-3))  # the default lr of each class
    ours = getattr(optim, name)(two_groups(ours_params, lr), **kwargs)
    ref = getattr(torch.optim, name)(two_groups(torch_params, lr), **kwargs)
    g = torch.Generator().manual_seed(1)
    worst = 0.0
    for step in range(N_STEPS):
        for p, q in zip(ours_params, torch_params):
            if step > 2 and torch.rand((), generator=g) < 0.2:
                p.grad = q.grad = None                      # unused this step: both skip it
            else:
                grad = torch.randn(p.shape, generator=g, dtype=torch.float64)
                p.grad, q.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
        for p, q in zip(ours_params, torch_params):
            worst = max(worst, (p - q).abs().max().item())
    assert worst <= 1e-6, f"{name}{kwargs}: max |ours - torch| = {worst:.3g}"
    # ... and the parameters really moved (the comparison is not vacuous).
    assert (ours_params[0] - make_params(0)[0]).abs().max() > 1e-3


def test_a_gradient_of_none_skips_the_parameter_and_creates_no_state():
    a, b = make_params(0)[:2]
    a0, b0 = a.detach().clone(), b.detach().clone()
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = torch.ones_like(a)
    opt.step()
    assert torch.equal(b, b0) and b not in opt.state
    assert not torch.equal(a, a0) and opt.state[a]["step"] == 1


def test_zero_grad_sets_to_none_by_default_or_fills_zeros_in_place():
    (p,) = make_params(0)[:1]
    opt = optim.SGD([p], lr=0.1)
    p.grad = torch.ones_like(p)
    opt.zero_grad()
    assert p.grad is None
    p.grad = torch.ones_like(p)
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and torch.count_nonzero(p.grad) == 0


def test_step_runs_without_autograd_and_returns_the_closure_loss():
    (p,) = make_params(0)[:1]
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() > 0 and p.grad_fn is None and p.requires_grad


def test_param_groups_and_state_have_torch_layout():
    params = make_params(0)
    opt = optim.SGD([{"params": params[:1]}, {"params": params[1:], "momentum": 0.9}], lr=0.1)
    assert [len(g["params"]) for g in opt.param_groups] == [1, 2]
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["momentum"] == 0.9
    assert all(g["lr"] == 0.1 for g in opt.param_groups)
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    assert "momentum_buffer" in opt.state[params[1]]


def test_changing_lr_in_a_param_group_takes_effect_like_a_scheduler():
    ours_p, ref_p = make_params(0)[:1], make_params(0)[:1]
    ours, ref = optim.SGD(ours_p, lr=0.1, momentum=0.9), torch.optim.SGD(ref_p, lr=0.1, momentum=0.9)
    for step in range(5):
        for o in (ours, ref):
            o.param_groups[0]["lr"] = 0.1 / (step + 1)
        ours_p[0].grad = torch.ones_like(ours_p[0])
        ref_p[0].grad = torch.ones_like(ref_p[0])
        ours.step()
        ref.step()
    assert torch.allclose(ours_p[0], ref_p[0], atol=1e-12)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda p: optim.SGD(p, lr=-0.1), ValueError, r"lr must be >= 0, got -0\.1"),
        (lambda p: optim.SGD(p, lr="fast"), TypeError, "lr must be a real number, got str"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, r"momentum must be >= 0, got -0\.5"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov=True requires momentum > 0"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay must be >= 0, got -1"),
        (lambda p: optim.RMSprop(p, alpha=1.5), ValueError, r"alpha must be in \[0, 1\], got 1\.5"),
        (lambda p: optim.RMSprop(p, eps=-1e-8), ValueError, r"eps must be >= 0, got -1e-08"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), ValueError, r"beta1 \(betas\[0\]\) must be in \[0, 1\), got 1\.0"),
        (lambda p: optim.Adam(p, betas=(0.9, -0.1)), ValueError, r"beta2 \(betas\[1\]\) must be in \[0, 1\), got -0\.1"),
        (lambda p: optim.Adam(p, betas=0.9), ValueError, "betas must be a pair"),
        (lambda p: optim.AdamW(p, lr=-1.0), ValueError, r"lr must be >= 0, got -1\.0"),
        (lambda p: optim.Adam([{"params": p, "lr": -3.0}]), ValueError, r"lr must be >= 0, got -3\.0"),
    ],
)
def test_bad_hyperparameters_raise_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make(make_params(0))


def test_bad_params_raise_clear_errors():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a torch.Tensor, got float"):
        optim.SGD([1.0], lr=0.1)
    with pytest.raises(ValueError, match=r"shape \(2,\)\) does not require grad"):
        optim.SGD([torch.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(torch.zeros(2, requires_grad=True), lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([torch.zeros(2, requires_grad=True) * 2], lr=0.1)
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


@pytest.mark.parametrize("device", ALL)
@pytest.mark.parametrize("cls, kwargs", [(optim.SGD, dict(momentum=0.9)),
                                         (optim.RMSprop, dict(momentum=0.9, centered=True)),
                                         (optim.Adam, dict(amsgrad=True)), (optim.AdamW, {})])
def test_optimizers_follow_the_parameters_device(device, cls, kwargs):
    # "meta" tensors have shapes but no values: a second device on a machine without a GPU.
    p = torch.ones(3, device=device, requires_grad=True)
    opt = cls([p], lr=0.1, **kwargs)
    for _ in range(2):  # the first step creates the state, the second uses it
        p.grad = torch.ones_like(p)
        opt.step()
    state = {k: v.device for k, v in opt.state[p].items() if isinstance(v, torch.Tensor)}
    assert state and all(d == p.device for d in state.values()), f"state devices {state}, parameter on {p.device}"
    assert p.device.type == device
