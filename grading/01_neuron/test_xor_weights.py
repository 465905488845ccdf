"""Graded tests of 01-xor-weights: hand-designed weights of a 2-2-1 step network for XOR.

The grader runs the forward pass itself on the returned weights, so no hand-written rule can
stand in for the network. Requirements (stated in the exercise, checked publicly): the four
corners, every input within 0.2 of a corner in each coordinate, hidden units other than
section 3's OR and AND.
"""
import torch

from nblib.grading import assert_close, question

F64 = torch.float64
CORNERS = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=F64)
XOR = torch.tensor([0.0, 1.0, 1.0, 0.0], dtype=F64)


def _forward(params, x):
    assert isinstance(params, (list, tuple)) and len(params) == 4, (
        f"xor_weights() must return (W1, b1, W2, b2), got {type(params).__name__}")
    W1, b1, W2, b2 = (torch.as_tensor(p).to(F64) for p in params)
    for p, shape, name in zip((W1, b1, W2, b2), [(2, 2), (2,), (1, 2), (1,)], ["W1", "b1", "W2", "b2"]):
        assert tuple(p.shape) == shape, f"{name} should have shape {shape}, got {tuple(p.shape)}"
    hidden = (x @ W1.T + b1 >= 0).to(F64)
    return hidden, (hidden @ W2.T + b2 >= 0).to(F64).reshape(-1)


@question("01-xor-weights", points=0.5)
def test_xor_on_the_four_corners(student):
    _, out = _forward(student.xor_weights(), CORNERS)
    assert_close(out, XOR)


@question("01-xor-weights", points=1)
def test_xor_within_0_2_of_the_corners(student, rng):
    k = torch.randint(0, 4, (40,), generator=rng)
    x = CORNERS[k] + (torch.rand(40, 2, dtype=F64, generator=rng) * 2 - 1) * 0.199
    _, out = _forward(student.xor_weights(), x)
    assert_close(out, XOR[k])


@question("01-xor-weights", points=0.5)
def test_hidden_units_are_not_or_and_and(student):
    hidden, out = _forward(student.xor_weights(), CORNERS)
    columns = {tuple(c) for c in hidden.T.tolist()}
    assert columns != {(0.0, 1.0, 1.0, 1.0), (0.0, 0.0, 0.0, 1.0)}, (
        "the hidden units compute OR and AND, section 3's pair; the exercise asks for another pair")
    assert_close(out, XOR)
