"""Graded tests of 01-dense-forward: x @ weight.T + bias with shape checks."""
import pytest
import torch

from nblib.grading import StudentError, assert_close, question

FORBIDDEN = {"01-dense-forward": ["F.linear", "torch.nn.functional.linear", "nn.Linear", "torch.addmm",
                                  "torch.nn.Linear", ".addmm", "getattr", "eval", "exec", "__import__"]}


def _expect_value_error(call, what):
    """``call()`` must raise ValueError inside the submitted code (a clear error on bad shapes)."""
    with pytest.raises(StudentError, match="^ValueError") as info:
        call()
    assert info.value.exc_type == "ValueError", f"{what} should raise ValueError, it raised {info.value}"


def _sizes(rng, k):
    return [int(s) for s in torch.randint(1, 9, (k,), generator=rng)]


@question("01-dense-forward", points=1)
def test_dense_forward_matches_reference_on_random_shapes(student, reference, rng):
    for _ in range(3):
        n, d_in, d_out = _sizes(rng, 3)
        x = torch.randn(n, d_in, dtype=torch.float64, generator=rng)
        w = torch.randn(d_out, d_in, dtype=torch.float64, generator=rng)
        b = torch.randn(d_out, dtype=torch.float64, generator=rng)
        out = student.dense_forward(x, w, b)
        assert tuple(out.shape) == (n, d_out), (f"x {tuple(x.shape)}, weight {tuple(w.shape)}: "
                                                 f"expected shape {(n, d_out)}, got {tuple(out.shape)}")
        assert_close(out, reference.dense_forward(x, w, b))


@question("01-dense-forward", points=0.5)
def test_dense_forward_handles_a_single_example_and_a_single_output(student, reference, rng):
    x = torch.randn(1, 5, dtype=torch.float64, generator=rng)
    w = torch.randn(1, 5, dtype=torch.float64, generator=rng)
    b = torch.randn(1, dtype=torch.float64, generator=rng)
    assert_close(student.dense_forward(x, w, b), reference.dense_forward(x, w, b))


@question("01-dense-forward", points=0.5)
def test_dense_forward_rejects_shapes_that_do_not_fit(student, rng):
    n, d_in, d_out = _sizes(rng, 3)
    x = torch.randn(n, d_in + 1, dtype=torch.float64, generator=rng)
    w = torch.randn(d_out, d_in, dtype=torch.float64, generator=rng)
    b = torch.randn(d_out, dtype=torch.float64, generator=rng)
    _expect_value_error(lambda: student.dense_forward(x, w, b),
                        f"dense_forward(x {tuple(x.shape)}, weight {tuple(w.shape)}, bias {tuple(b.shape)})")
    x_ok = torch.randn(n, d_in, dtype=torch.float64, generator=rng)
    b_long = torch.zeros(d_out + 1, dtype=torch.float64)
    _expect_value_error(lambda: student.dense_forward(x_ok, w, b_long),
                        f"dense_forward(x {tuple(x_ok.shape)}, weight {tuple(w.shape)}, bias {tuple(b_long.shape)})")
