"""Graded tests of 02-sgd-momentum-step: one step of torch.optim.SGD with momentum."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"02-sgd-momentum-step": ["torch.optim", "nblib", "getattr", "eval", "exec", "__import__"]}


@question("02-sgd-momentum-step", points=1)
def test_first_step_and_later_step(student, reference, rng):
    p = torch.randn(3, 4, dtype=torch.float64, generator=rng)
    g = torch.randn(3, 4, dtype=torch.float64, generator=rng)
    lr, mu = float(0.01 + torch.rand((), generator=rng)), float(torch.rand((), generator=rng))
    assert_close(student.sgd_momentum_step(p, g, None, lr, mu), reference.sgd_momentum_step(p, g, None, lr, mu),
                 rtol=1e-10, atol=1e-12)
    buf = torch.randn(3, 4, dtype=torch.float64, generator=rng)
    assert_close(student.sgd_momentum_step(p, g, buf, lr, mu), reference.sgd_momentum_step(p, g, buf, lr, mu),
                 rtol=1e-10, atol=1e-12)


@question("02-sgd-momentum-step", points=1)
def test_ten_steps_match_torch_optim(student, reference, rng):
    curvature = torch.rand(6, dtype=torch.float64, generator=rng) + 0.1
    p0 = torch.randn(6, dtype=torch.float64, generator=rng)
    lr, mu = float(0.05 + 0.2 * torch.rand((), generator=rng)), 0.9
    ref = p0.clone().requires_grad_()
    opt = torch.optim.SGD([ref], lr=lr, momentum=mu)
    p, buf = p0.clone(), None
    for _ in range(10):
        p, buf = student.sgd_momentum_step(p, curvature * p, buf, lr, mu)
        opt.zero_grad()
        (0.5 * curvature * ref**2).sum().backward()
        opt.step()
    assert_close(p, ref.detach(), rtol=1e-9, atol=1e-11)
