"""Graded tests of 06-topk-accuracy: the fraction of rows whose target is among the k
largest logits, on random shapes drawn from the grader's seed."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"06-topk-accuracy": ["torchmetrics", "sklearn", "nblib", "getattr", "eval", "exec",
                                  "__import__"]}


def _truth(logits, target, k):
    ranks = (logits > logits.gather(1, target[:, None])).sum(dim=1)  # classes ahead of it
    return (ranks < k).double().mean().item()


@question("06-topk-accuracy", points=1)
def test_random_logits_every_k(student, reference, rng):
    n, c = int(torch.randint(1, 60, (), generator=rng)), int(torch.randint(2, 30, (), generator=rng))
    logits = torch.randn(n, c, dtype=torch.float64, generator=rng)
    target = torch.randint(0, c, (n,), generator=rng)
    for k in sorted({1, int(torch.randint(1, c + 1, (), generator=rng)), c}):
        got = student.topk_accuracy(logits, target, k)
        if not isinstance(got, float):
            raise AssertionError(f"topk_accuracy must return a Python float, got {type(got).__name__}")
        assert_close(got, _truth(logits, target, k), rtol=1e-12, atol=1e-12)
        assert_close(got, reference.topk_accuracy(logits, target, k), rtol=1e-12, atol=1e-12)


@question("06-topk-accuracy", points=1)
def test_imagenet_sized_float32_batch(student, rng):
    logits = torch.randn(64, 1000, generator=rng) * 3
    target = torch.where(torch.rand(64, generator=rng) < 0.5, logits.argsort(1, descending=True)[:, 3],
                         torch.randint(0, 1000, (64,), generator=rng))
    for k in (1, 3, 4, 5):
        assert_close(student.topk_accuracy(logits, target, k), _truth(logits, target, k), rtol=1e-9, atol=1e-12)
