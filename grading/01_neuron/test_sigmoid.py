"""Graded tests of 01-sigmoid: a numerically stable sigmoid and its derivative."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"01-sigmoid": ["torch.sigmoid", "F.sigmoid", "torch.special.expit", "torch.nn.functional.sigmoid",
                            ".sigmoid", ".expit", "F.logsigmoid", "nn.Sigmoid", "getattr", "eval", "exec",
                            "__import__"]}


@question("01-sigmoid", points=0.5)
def test_sigmoid_matches_reference_on_random_inputs(student, reference, rng):
    shape = tuple(int(s) for s in torch.randint(1, 7, (2,), generator=rng))
    x = torch.randn(*shape, dtype=torch.float64, generator=rng) * 6
    out = student.sigmoid(x)
    assert_close(out, reference.sigmoid(x))
    assert tuple(out.shape) == shape, f"sigmoid must keep the input's shape {shape}, got {tuple(out.shape)}"


@question("01-sigmoid", points=0.5)
def test_sigmoid_is_finite_and_correct_for_large_inputs(student, reference, rng):
    big = torch.rand(6, dtype=torch.float64, generator=rng) * 900 + 100   # in [100, 1000]
    x = torch.cat([-big, big, torch.tensor([-745.0, 0.0, 745.0], dtype=torch.float64)])
    out = student.sigmoid(x)
    assert bool(torch.isfinite(out).all()), f"sigmoid returned non-finite values for large |x|: {out.tolist()}"
    assert_close(out, reference.sigmoid(x), atol=1e-12)
    x32 = x.float()
    assert_close(student.sigmoid(x32), reference.sigmoid(x32), atol=1e-6)


@question("01-sigmoid", points=0.5)
def test_sigmoid_grad_matches_reference_on_random_inputs(student, reference, rng):
    x = torch.randn(5, 4, dtype=torch.float64, generator=rng) * 6
    assert_close(student.sigmoid_grad(x), reference.sigmoid_grad(x))


@question("01-sigmoid", points=0.5)
def test_sigmoid_grad_is_finite_for_large_inputs(student, reference, rng):
    big = torch.rand(4, dtype=torch.float32, generator=rng) * 900 + 100
    x = torch.cat([-big, big])
    out = student.sigmoid_grad(x)
    assert bool(torch.isfinite(out).all()), f"sigmoid_grad returned non-finite values for large |x|: {out.tolist()}"
    assert_close(out, reference.sigmoid_grad(x), atol=1e-12)
