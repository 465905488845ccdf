"""Graded tests of 03-f1: macro F1 from label tensors, compared with sklearn."""
import numpy as np
import torch
from sklearn.metrics import f1_score

from nblib.grading import assert_close, question

FORBIDDEN = {"03-f1": ["sklearn", "torchmetrics", "nblib", "getattr", "eval", "exec", "__import__"]}


def _sklearn(y_true, y_pred, c):
    return float(f1_score(y_true.numpy(), y_pred.numpy(), labels=np.arange(c), average="macro", zero_division=0))


@question("03-f1", points=1)
def test_random_predictions(student, reference, rng):
    c = int(torch.randint(2, 10, (), generator=rng))
    n = int(torch.randint(5, 60, (), generator=rng))
    y_true = torch.randint(0, c, (n,), generator=rng)
    flip = torch.rand(n, generator=rng) < 0.4
    y_pred = torch.where(flip, torch.randint(0, c, (n,), generator=rng), y_true)
    out = student.macro_f1(y_true, y_pred, c)
    assert_close(out, _sklearn(y_true, y_pred, c), rtol=1e-9, atol=1e-12)
    assert_close(out, reference.macro_f1(y_true, y_pred, c), rtol=1e-9, atol=1e-12)


@question("03-f1", points=1)
def test_classes_never_seen_or_never_predicted(student, reference, rng):
    c = int(torch.randint(4, 8, (), generator=rng))
    n = 20
    y_true = torch.randint(0, 2, (n,), generator=rng)       # only classes 0 and 1 occur
    y_pred = torch.randint(1, 3, (n,), generator=rng)       # class 2 predicted but never true
    out = student.macro_f1(y_true, y_pred, c)
    assert_close(out, _sklearn(y_true, y_pred, c), rtol=1e-9, atol=1e-12)
