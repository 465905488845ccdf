"""Graded tests of 01-bilinear-forward: z_k = x1^T A_k x2 + b_k for a batch, with shape checks."""
import pytest
import torch
import torch.nn.functional as F

from nblib.grading import StudentError, assert_close, question

FORBIDDEN = {"01-bilinear-forward": ["F.bilinear", "torch.nn.functional.bilinear", "torch.bilinear",
                                     "nn.Bilinear", "torch.nn.Bilinear", ".bilinear",
                                     "getattr", "eval", "exec", "__import__"]}


def _expect_value_error(call, what):
    """``call()`` must raise ValueError inside the submitted code (a clear error on bad shapes)."""
    with pytest.raises(StudentError, match="^ValueError") as info:
        call()
    assert info.value.exc_type == "ValueError", f"{what} should raise ValueError, it raised {info.value}"


def _case(rng, n, d1, d2, d_out, dtype=torch.float64):
    return (torch.randn(n, d1, dtype=dtype, generator=rng), torch.randn(n, d2, dtype=dtype, generator=rng),
            torch.randn(d_out, d1, d2, dtype=dtype, generator=rng), torch.randn(d_out, dtype=dtype, generator=rng))


def _sizes(rng, k):
    return [int(s) for s in torch.randint(1, 8, (k,), generator=rng)]


@question("01-bilinear-forward", points=1)
def test_bilinear_forward_equals_torch_on_random_shapes(student, rng):
    for _ in range(3):
        n, d1, d2, d_out = _sizes(rng, 4)
        x1, x2, w, b = _case(rng, n, d1, d2, d_out)
        out = student.bilinear_forward(x1, x2, w, b)
        assert tuple(out.shape) == (n, d_out), (f"x1 {(n, d1)}, x2 {(n, d2)}, weight {(d_out, d1, d2)}: "
                                                 f"expected shape {(n, d_out)}, got {tuple(out.shape)}")
        assert out.dtype == torch.float64, f"float64 inputs gave a {out.dtype} result"
        assert_close(out, F.bilinear(x1, x2, w, b), rtol=1e-10, atol=1e-10)


@question("01-bilinear-forward", points=0.5)
def test_bilinear_forward_handles_one_example_one_output_and_float32(student, rng):
    x1, x2, w, b = _case(rng, 1, 4, 2, 1)
    assert_close(student.bilinear_forward(x1, x2, w, b), F.bilinear(x1, x2, w, b), rtol=1e-10, atol=1e-10)
    x1, x2, w, b = _case(rng, 6, 3, 5, 2, dtype=torch.float32)
    out = student.bilinear_forward(x1, x2, w, b)
    assert out.dtype == torch.float32, f"float32 inputs gave a {out.dtype} result"
    assert_close(out, F.bilinear(x1, x2, w, b), rtol=1e-4, atol=1e-5)


@question("01-bilinear-forward", points=0.5)
def test_bilinear_forward_rejects_shapes_that_do_not_fit(student, rng):
    n, d1, d2, d_out = _sizes(rng, 4)
    x1, x2, w, b = _case(rng, n, d1, d2, d_out)
    bad = {"x1 with a different number of examples": (torch.randn(n + 1, d1, dtype=torch.float64), x2, w, b),
           "x1 with the wrong number of features": (torch.randn(n, d1 + 1, dtype=torch.float64), x2, w, b),
           "x2 with the wrong number of features": (x1, torch.randn(n, d2 + 2, dtype=torch.float64), w, b),
           "bias of the wrong length": (x1, x2, w, torch.zeros(d_out + 1, dtype=torch.float64))}
    for what, args in bad.items():
        _expect_value_error(lambda: student.bilinear_forward(*args),
                            f"bilinear_forward with {what} ({', '.join(str(tuple(a.shape)) for a in args)})")
