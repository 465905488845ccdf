"""Graded tests of 01-averaged-perceptron: Freund & Schapire's averaged perceptron.

Requirements (stated in the exercise, checked publicly on a small worked example): zero start,
examples in order, +1 predicted at z = 0, updates only on mistakes, the average over all
N * epochs visits (every epoch is run, no early stop), the learning rate, x's dtype kept.
"""
import torch

from nblib.grading import assert_close, assert_inputs_unchanged, question


def _data(rng, n, d, separable):
    x = torch.randn(n, d, dtype=torch.float64, generator=rng) * 2
    if separable:
        u = torch.randn(d, dtype=torch.float64, generator=rng)
        y = torch.where(x @ u + 0.3 >= 0, 1.0, -1.0).to(torch.float64)
    else:
        y = torch.where(torch.rand(n, generator=rng) < 0.5, 1.0, -1.0).to(torch.float64)
    return x, y


def _lr(rng):
    return float(torch.rand((), dtype=torch.float64, generator=rng)) + 0.1


@question("01-averaged-perceptron", points=1)
def test_matches_reference_on_random_non_separable_data(student, reference, rng):
    for d in (2, 4):
        n = int(torch.randint(8, 20, (), generator=rng))
        epochs = int(torch.randint(1, 5, (), generator=rng))
        x, y = _data(rng, n, d, separable=False)
        lr = _lr(rng)
        assert_close(list(student.averaged_perceptron(x, y, epochs, lr)),
                     list(reference.averaged_perceptron(x, y, epochs, lr)), rtol=1e-9, atol=1e-12)
        assert_inputs_unchanged(student, (x, y, epochs, lr), positions=(0, 1))  # stated: x, y kept


@question("01-averaged-perceptron", points=0.5)
def test_runs_every_epoch_on_separable_data(student, reference, rng):
    x, y = _data(rng, 12, 3, separable=True)
    lr = _lr(rng)
    assert_close(list(student.averaged_perceptron(x, y, 15, lr)),
                 list(reference.averaged_perceptron(x, y, 15, lr)), rtol=1e-9, atol=1e-12)


@question("01-averaged-perceptron", points=0.5)
def test_keeps_float32(student, reference, rng):
    x, y = _data(rng, 10, 3, separable=False)
    x, y = x.float(), y.float()
    w, b = student.averaged_perceptron(x, y, 3, 1.0)
    w_ref, b_ref = reference.averaged_perceptron(x, y, 3, 1.0)
    assert_close(w, w_ref, rtol=1e-4, atol=1e-5, check_dtype=True)
    assert_close(b, b_ref, rtol=1e-4, atol=1e-5)
