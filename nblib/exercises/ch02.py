"""Public self-checks of chapter 02 (How networks learn). Graded tests: grading/02_learning/."""
import torch
import torch.nn.functional as F

from nblib.exercises.expect import expect_close, expect_shape, expect_true
from nblib.exercises.registry import public_check


def _logits(seed: int, n: int = 6, c: int = 4, scale: float = 3.0):
    g = torch.Generator().manual_seed(seed)
    z = scale * torch.randn(n, c, dtype=torch.float64, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    return z, y


# ------------------------------------------------------------------ 02-cross-entropy
@public_check("02-cross-entropy")
def _ce_matches_torch(cross_entropy_from_logits):
    z, y = _logits(0)
    out = cross_entropy_from_logits(z, y)
    expect_shape(out, (), what="cross_entropy_from_logits(logits (6, 4), target (6,))",
                 hint="return the mean over the N examples: a 0-d tensor")
    expect_close(out, F.cross_entropy(z, y), rtol=1e-6, atol=1e-9,
                 what="the mean cross-entropy of 6 random examples",
                 hint="loss_n = log(sum_j exp(z_nj)) - z_n[y_n], then the mean over n")


@public_check("02-cross-entropy")
def _ce_is_stable(cross_entropy_from_logits):
    z = torch.tensor([[1000.0, 999.0, -1000.0], [-1000.0, -999.0, -1001.0]], dtype=torch.float64)
    y = torch.tensor([1, 1])
    out = cross_entropy_from_logits(z, y)
    expect_true(bool(torch.isfinite(torch.as_tensor(out)).all()),
                "a finite loss for logits of size 1000",
                hint="subtract the row maximum m before exp: log sum exp(z) = m + log sum exp(z - m)")
    expect_close(out, F.cross_entropy(z, y), rtol=1e-6, atol=1e-9, what="the loss for logits of size 1000")


# ------------------------------------------------------------------ 02-numerical-grad
def _regression(seed: int, n: int = 12, d: int = 3):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, dtype=torch.float64, generator=g)
    y = torch.randn(n, dtype=torch.float64, generator=g)
    w = torch.randn(d, dtype=torch.float64, generator=g)
    return w, X, y


@public_check("02-numerical-grad")
def _numgrad_close(numerical_grad_mse):
    w, X, y = _regression(0)
    analytic = 2 * X.T @ (X @ w - y) / len(y)
    out = numerical_grad_mse(w.clone(), X, y, 1e-6)
    expect_shape(out, (3,), what="numerical_grad_mse(w (3,), X (12, 3), y (12,))")
    expect_close(out, analytic, rtol=1e-5, atol=1e-7, what="the numerical gradient with eps = 1e-6",
                 hint="for each i: (L(w + eps e_i) - L(w - eps e_i)) / (2 eps)")


@public_check("02-numerical-grad")
def _numgrad_is_central(numerical_grad_mse):
    w, X, y = _regression(1)
    analytic = 2 * X.T @ (X @ w - y) / len(y)
    expect_close(numerical_grad_mse(w.clone(), X, y, 0.5), analytic, rtol=1e-9, atol=1e-9,
                 what="the numerical gradient with a large eps = 0.5",
                 hint="a quadratic's central difference is exact for any eps; a one-sided "
                      "difference (L(w + eps e_i) - L(w)) / eps is off by eps * L''/2")


# ------------------------------------------------------------------ 02-sgd-momentum-step
@public_check("02-sgd-momentum-step")
def _momentum_matches_torch(sgd_momentum_step):
    g = torch.Generator().manual_seed(0)
    p0 = torch.randn(5, dtype=torch.float64, generator=g)
    curvature = torch.rand(5, dtype=torch.float64, generator=g) + 0.5
    ref = p0.clone().requires_grad_()
    opt = torch.optim.SGD([ref], lr=0.1, momentum=0.9)
    p, buf = p0.clone(), None
    for step in range(4):
        grad = curvature * p                       # gradient of sum(curvature * p^2) / 2
        p, buf = sgd_momentum_step(p, grad, buf, 0.1, 0.9)
        opt.zero_grad()
        (0.5 * curvature * ref**2).sum().backward()
        opt.step()
        expect_close(p, ref.detach(), rtol=1e-10, atol=1e-12,
                     what=f"the parameters after step {step + 1} (compared with torch.optim.SGD)",
                     hint="first step: buf = grad; then buf = momentum * buf + grad; p = p - lr * buf")


# ------------------------------------------------------------------ 02-ce-grad
@public_check("02-ce-grad")
def _ce_grad_matches_autograd(cross_entropy_grad):
    z, y = _logits(2, n=5, c=3)
    leaf = z.clone().requires_grad_()
    F.cross_entropy(leaf, y).backward()
    out = cross_entropy_grad(z, y)
    expect_shape(out, (5, 3), what="cross_entropy_grad(logits (5, 3), target (5,))")
    expect_close(out, leaf.grad, rtol=1e-6, atol=1e-10, what="the gradient of the mean cross-entropy",
                 hint="(softmax(z) - onehot(y)) / N")
