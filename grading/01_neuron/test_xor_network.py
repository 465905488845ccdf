"""Graded tests of 01-xor-network: a hand-designed 2-2-1 step network computing XOR."""
import torch

from nblib.grading import assert_close, question


@question("01-xor-network", points=1)
def test_xor_on_the_four_corners(student):
    corners = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    out = student.xor_network(corners)
    assert_close(out, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert tuple(out.shape) == (4,), f"xor_network must return shape (N,) = (4,), got {tuple(out.shape)}"


@question("01-xor-network", points=1)
def test_xor_on_a_random_batch_in_float64(student, rng):
    x = torch.randint(0, 2, (25, 2), generator=rng).to(torch.float64)
    expected = (x[:, 0] != x[:, 1]).to(torch.float64)
    assert_close(student.xor_network(x), expected)
