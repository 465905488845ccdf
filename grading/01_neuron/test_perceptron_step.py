"""Graded tests of 01-perceptron-step: one update of Rosenblatt's rule, labels in {-1, +1}."""
import torch

from nblib.grading import assert_close, question


def _example(rng, d):
    w = torch.randn(d, dtype=torch.float64, generator=rng)
    x = torch.randn(d, dtype=torch.float64, generator=rng)
    b = float(torch.randn((), dtype=torch.float64, generator=rng))
    lr = float(torch.rand((), dtype=torch.float64, generator=rng)) + 0.1
    return w, b, x, lr


@question("01-perceptron-step", points=0.75)
def test_mistakes_move_the_weights(student, reference, rng):
    for d in (2, 5):
        w, b, x, lr = _example(rng, d)
        z = float(w @ x) + b
        y = -1.0 if z >= 0 else 1.0                          # the wrong side: a mistake
        assert_close(student.perceptron_step(w, b, x, y, lr), reference.perceptron_step(w, b, x, y, lr))


@question("01-perceptron-step", points=0.75)
def test_correct_predictions_leave_the_weights_alone(student, reference, rng):
    for d in (2, 5):
        w, b, x, lr = _example(rng, d)
        y = 1.0 if float(w @ x) + b >= 0 else -1.0           # the right side: no update
        assert_close(student.perceptron_step(w, b, x, y, lr), reference.perceptron_step(w, b, x, y, lr))


@question("01-perceptron-step", points=0.5)
def test_z_equal_to_zero_predicts_plus_one(student, reference, rng):
    d = 3
    x = torch.randn(d, dtype=torch.float64, generator=rng)
    w = torch.zeros(d, dtype=torch.float64)
    lr = float(torch.rand((), dtype=torch.float64, generator=rng)) + 0.1
    for y in (1.0, -1.0):                                    # z = 0: right for +1, a mistake for -1
        assert_close(student.perceptron_step(w, 0.0, x, y, lr), reference.perceptron_step(w, 0.0, x, y, lr))
