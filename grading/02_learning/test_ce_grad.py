"""Graded tests of 02-ce-grad: the gradient of the mean cross-entropy, softmax - onehot over N.

The learner writes the stable softmax: every softmax, log-softmax, log-sum-exp and
cross-entropy of PyTorch is forbidden (as is autograd), so the large-logit test checks their
own shift by the row maximum."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, question

FORBIDDEN = {"02-ce-grad": [
    ".backward", "torch.autograd", ".grad", "torch.func", "functorch",
    "torch.softmax", "F.softmax", ".softmax", "nn.Softmax", "torch.log_softmax", "F.log_softmax",
    ".log_softmax", "nn.LogSoftmax", "torch.logsumexp", ".logsumexp", "F.cross_entropy",
    "nn.CrossEntropyLoss", "F.nll_loss", "torch.special", "nblib", "getattr", "eval", "exec",
    "__import__"]}


def _problem(rng, scale=3.0):
    n, c = int(torch.randint(2, 16, (), generator=rng)), int(torch.randint(2, 8, (), generator=rng))
    z = scale * torch.randn(n, c, dtype=torch.float64, generator=rng)
    y = torch.randint(0, c, (n,), generator=rng)
    return z, y


def _autograd(z, y):
    leaf = z.clone().requires_grad_()
    F.cross_entropy(leaf, y).backward()
    return leaf.grad


@question("02-ce-grad", points=2)
def test_matches_autograd(student, reference, rng):
    z, y = _problem(rng)
    out = student.cross_entropy_grad(z, y)
    assert_close(out, reference.cross_entropy_grad(z, y), rtol=1e-6, atol=1e-10)
    assert_close(out, _autograd(z, y), rtol=1e-6, atol=1e-10)


@question("02-ce-grad", points=1)
def test_large_logits(student, reference, rng):
    z, y = _problem(rng, scale=500.0)
    out = student.cross_entropy_grad(z, y)
    if not bool(torch.isfinite(torch.as_tensor(out)).all()):
        raise AssertionError("the gradient must stay finite for logits of size 500")
    assert_close(out, _autograd(z, y), rtol=1e-6, atol=1e-10)
