"""Graded tests of 06-prototypes: nearest class mean by cosine similarity (Mensink et al.
2013; Snell et al. 2017), on clustered features drawn from the grader's seed.

The predictions are compared with the reference's exactly (the rule is deterministic), and
they must not depend on the length of the test features. Returning a constant class, or the
training labels, scores 0.
"""
import torch

from nblib.exercises.ch06 import clustered_features
from nblib.grading import assert_close, question

FORBIDDEN = {"06-prototypes": ["sklearn", "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng):
    c, d = int(torch.randint(2, 9, (), generator=rng)), int(torch.randint(3, 64, (), generator=rng))
    k = int(torch.randint(1, 6, (), generator=rng))
    centres = torch.randn(c, d, generator=rng)
    x, y = clustered_features(rng, centres, k, spread=1.5)
    perm = torch.randperm(len(y), generator=rng)  # labels in no particular order
    x_new, y_new = clustered_features(rng, centres, 20, spread=1.5)
    return x[perm], y[perm], x_new, y_new, c


@question("06-prototypes", points=2)
def test_equals_the_nearest_normalised_class_mean(student, reference, rng):
    x, y, x_new, _, c = _problem(rng)
    pred = student.prototype_predict(x, y, x_new, c)
    assert_close(pred, reference.prototype_predict(x, y, x_new, c), rtol=0, atol=0, check_dtype=True)


@question("06-prototypes", points=1)
def test_ignores_the_length_of_features_and_generalises(student, reference, rng):
    x, y, x_new, y_new, c = _problem(rng)
    scale = torch.rand(len(x_new), 1, generator=rng) * 1000 + 1e-3
    pred = student.prototype_predict(x, y, x_new * scale, c)
    assert_close(pred, reference.prototype_predict(x, y, x_new, c), rtol=0, atol=0)
    ref_acc = (reference.prototype_predict(x, y, x_new, c) == y_new).double().mean().item()
    acc = (pred == y_new).double().mean().item()
    if acc < ref_acc - 1e-9:
        raise AssertionError(f"accuracy on fresh points {100 * acc:.1f} %, the reference gets {100 * ref_acc:.1f} %")
