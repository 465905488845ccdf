"""Graded tests of 02-sgd-nesterov-step: one step of torch.optim.SGD with Nesterov momentum
and weight decay, returning (new_p, new_buf) and leaving its inputs unchanged.

Arguments travel to the sandbox as copies; the sandbox sends them back as the call left them,
and ``assert_inputs_unchanged`` compares. ``nesterov_path`` (given code in the same cell) keeps
every returned tensor as it is, so an in-place step also corrupts the stored path."""
import torch

from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"02-sgd-nesterov-step": ["torch.optim", "nblib", "getattr", "eval", "exec",
                                      "__import__"]}


def _settings(rng):
    lr = float(0.01 + 0.3 * torch.rand((), generator=rng))
    mu = float(0.5 + 0.45 * torch.rand((), generator=rng))
    wd = float(0.1 * torch.rand((), generator=rng))
    return lr, mu, wd


def _torch_path(p0, curvature, lr, mu, wd, steps):
    ref = p0.clone().requires_grad_()
    opt = torch.optim.SGD([ref], lr=lr, momentum=mu, nesterov=True, weight_decay=wd)
    ps, bufs = [p0.clone()], []
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * curvature * ref**2).sum().backward()
        opt.step()
        ps.append(ref.detach().clone())
        bufs.append(opt.state[ref]["momentum_buffer"].clone())
    return torch.stack(ps), torch.stack(bufs)


@question("02-sgd-nesterov-step", points=1)
def test_one_step_first_and_later(student, reference, rng):
    p = torch.randn(3, 4, dtype=torch.float64, generator=rng)
    g = torch.randn(3, 4, dtype=torch.float64, generator=rng)
    buf = torch.randn(3, 4, dtype=torch.float64, generator=rng)
    lr, mu, wd = _settings(rng)
    for previous in (None, buf):
        out = student.sgd_nesterov_step(p, g, previous, lr, mu, wd)
        assert_inputs_unchanged(student, (p, g, previous), positions=(0, 1, 2))
        assert_close(out,
                     reference.sgd_nesterov_step(p, g, previous, lr, mu, wd),
                     rtol=1e-10, atol=1e-12)


@question("02-sgd-nesterov-step", points=1)
def test_ten_steps_match_torch_optim_without_in_place_changes(student, reference, rng):
    curvature = torch.rand(6, dtype=torch.float64, generator=rng) + 0.1
    p0 = torch.randn(6, dtype=torch.float64, generator=rng)
    lr, mu, wd = _settings(rng)
    ps, bufs = student.nesterov_path(p0, curvature, lr, mu, wd, 10)
    ref_ps, ref_bufs = _torch_path(p0, curvature, lr, mu, wd, 10)
    assert_close(ps, ref_ps, rtol=1e-9, atol=1e-11)
    assert_close(bufs, ref_bufs, rtol=1e-9, atol=1e-11)
