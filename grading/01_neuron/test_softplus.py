"""Graded tests of 01-softplus: a numerically stable softplus and its derivative.

Every requirement tested here is stated in the exercise and checked publicly in a smaller form:
elementwise values and shape, finite and correct for |x| up to 1000 in float64 and float32
(dtype kept), relative accuracy for very negative x, and a derivative that is finite and
correct there too, in float64 and float32 (dtype kept).
"""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"01-softplus": ["F.softplus", "torch.nn.functional.softplus", "nn.Softplus",
                             "torch.nn.Softplus", ".softplus", ".logaddexp", ".logsumexp",
                             ".logsigmoid", "F.logsigmoid", "nn.LogSigmoid", "getattr", "eval",
                             "exec", "__import__"]}


def _shape(rng):
    return tuple(int(s) for s in torch.randint(1, 7, (2,), generator=rng))


@question("01-softplus", points=0.5)
def test_softplus_matches_reference_on_random_inputs(student, reference, rng):
    shape = _shape(rng)
    x = torch.randn(*shape, dtype=torch.float64, generator=rng) * 6
    out = student.softplus(x)
    assert tuple(out.shape) == shape, f"softplus must keep the input's shape {shape}, got {tuple(out.shape)}"
    assert_close(out, reference.softplus(x))


@question("01-softplus", points=0.5)
def test_softplus_is_finite_and_correct_for_large_inputs_in_float64_and_float32(student, reference, rng):
    big = torch.rand(6, dtype=torch.float64, generator=rng) * 900 + 100   # in [100, 1000]
    x = torch.cat([-big, big, torch.tensor([-710.0, 0.0, 710.0], dtype=torch.float64)])
    out = student.softplus(x)
    assert bool(torch.isfinite(out).all()), f"softplus returned non-finite values for large |x|: {out.tolist()}"
    assert_close(out, reference.softplus(x))
    x32 = (torch.rand(8, dtype=torch.float64, generator=rng) * 200 - 100).float()  # [-100, 100]
    x32 = torch.cat([x32, torch.tensor([-1000.0, 89.0, 1000.0])])
    assert_close(student.softplus(x32), reference.softplus(x32), check_dtype=True)


@question("01-softplus", points=0.25)
def test_softplus_keeps_relative_accuracy_for_very_negative_inputs(student, reference, rng):
    x = -(torch.rand(6, dtype=torch.float64, generator=rng) * 40 + 20)     # in [-60, -20]
    assert_close(student.softplus(x), reference.softplus(x), rtol=1e-6, atol=0.0)


@question("01-softplus", points=0.5)
def test_softplus_grad_matches_reference_on_random_inputs(student, reference, rng):
    shape = _shape(rng)
    x = torch.randn(*shape, dtype=torch.float64, generator=rng) * 6
    out = student.softplus_grad(x)
    assert tuple(out.shape) == shape, f"softplus_grad must keep the input's shape {shape}, got {tuple(out.shape)}"
    assert_close(out, reference.softplus_grad(x))


@question("01-softplus", points=0.25)
def test_softplus_grad_is_finite_for_large_inputs(student, reference, rng):
    big = torch.rand(4, dtype=torch.float64, generator=rng) * 900 + 100
    x = torch.cat([-big, big])
    for xx in (x, x.float()):
        out = student.softplus_grad(xx)
        assert bool(torch.isfinite(out).all()), (
            f"softplus_grad returned non-finite values for large |x|: {out.tolist()}")
        assert_close(out, reference.softplus_grad(xx), atol=1e-12, check_dtype=True)
