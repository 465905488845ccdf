"""Graded tests of 02-cross-entropy: stable mean cross-entropy from logits."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, question

FORBIDDEN = {"02-cross-entropy": [
    "F.cross_entropy", "F.log_softmax", "F.softmax", "F.nll_loss", "torch.logsumexp", ".logsumexp",
    "torch.log_softmax", ".log_softmax", "torch.softmax", ".softmax", "torch.special",
    "nn.CrossEntropyLoss", "nn.LogSoftmax", "nn.Softmax", "nblib", "getattr", "eval", "exec", "__import__"]}


@question("02-cross-entropy", points=1)
def test_random_logits(student, reference, rng):
    n, c = int(torch.randint(3, 20, (), generator=rng)), int(torch.randint(2, 10, (), generator=rng))
    z = 4 * torch.randn(n, c, dtype=torch.float64, generator=rng)
    y = torch.randint(0, c, (n,), generator=rng)
    out = student.cross_entropy_from_logits(z, y)
    assert_close(out, reference.cross_entropy_from_logits(z, y), rtol=1e-6, atol=1e-9)
    assert_close(out, F.cross_entropy(z, y), rtol=1e-6, atol=1e-9)


@question("02-cross-entropy", points=1)
def test_large_logits_stay_finite(student, reference, rng):
    z = 1000 * torch.randn(6, 5, dtype=torch.float64, generator=rng).sign()
    z = z + torch.randn(6, 5, dtype=torch.float64, generator=rng)   # logits near +-1000
    y = torch.randint(0, 5, (6,), generator=rng)
    out = student.cross_entropy_from_logits(z, y)
    if not bool(torch.isfinite(torch.as_tensor(out)).all()):
        raise AssertionError(f"loss {out} for logits of size 1000")
    assert_close(out, F.cross_entropy(z, y), rtol=1e-6, atol=1e-9)


@question("02-cross-entropy", points=1)
def test_very_negative_logits_and_float32(student, reference, rng):
    z = -1000 + torch.randn(4, 3, generator=rng)          # float32, every exp underflows naively
    y = torch.randint(0, 3, (4,), generator=rng)
    out = student.cross_entropy_from_logits(z, y)
    if not bool(torch.isfinite(torch.as_tensor(out)).all()):
        raise AssertionError(f"loss {out} for logits near -1000")
    assert_close(out, F.cross_entropy(z, y), rtol=1e-4, atol=1e-5)
