"""Graded tests of 04-receptive-field: the receptive field of a random stack of convolutions
(1 to 8 layers, kernels 1 to 7, strides 1 to 3, dilations 1 to 3) equals the one measured by
the gradient of one output (nblib.nn.conv.measure_receptive_field) and the reference's.

r = 1 + sum_l d_l (k_l - 1) * prod_{i < l} s_i.
"""
from nblib.exercises.ch04 import receptive_field_measured
from nblib.grading import question

FORBIDDEN = {"04-receptive-field": ["nblib", "measure_receptive_field", "getattr", "eval",
                                    "exec", "__import__"]}


def _stack(rng, depth=None):
    import torch

    depth = depth or int(torch.randint(1, 9, (), generator=rng))
    draw = lambda lo, hi: [int(v) for v in torch.randint(lo, hi + 1, (depth,), generator=rng)]
    return draw(1, 7), draw(1, 3), draw(1, 3)


@question("04-receptive-field", points=1)
def test_equals_the_measured_receptive_field(student, rng):
    for _ in range(6):
        kernels, strides, dilations = _stack(rng)
        got = student.receptive_field(kernels, strides, dilations)
        if not isinstance(got, int) or isinstance(got, bool):
            raise AssertionError(f"receptive_field must return an int, got {type(got).__name__}")
        want = receptive_field_measured(kernels, strides, dilations)
        if got != want:
            raise AssertionError(f"receptive_field({kernels}, {strides}, {dilations}) = {got}; "
                                 f"measured by the gradient: {want}")


@question("04-receptive-field", points=1)
def test_deep_strided_stacks_match_the_reference(student, reference, rng):
    for depth in (1, 8):
        kernels, strides, dilations = _stack(rng, depth)
        got = student.receptive_field(kernels, strides, dilations)
        want = reference.receptive_field(kernels, strides, dilations)
        if got != want:
            raise AssertionError(f"receptive_field({kernels}, {strides}, {dilations}) = {got}; "
                                 f"expected {want}")
