"""Graded tests of 01-collapse: a stack of linear layers equals one linear map."""
import torch

from nblib.grading import assert_close, question


def _layers(rng, depth):
    sizes = [int(s) for s in torch.randint(1, 7, (depth + 1,), generator=rng)]
    weights = [torch.randn(o, i, dtype=torch.float64, generator=rng) for i, o in zip(sizes, sizes[1:])]
    biases = [torch.randn(o, dtype=torch.float64, generator=rng) for o in sizes[1:]]
    return sizes, weights, biases


@question("01-collapse", points=1.5)
def test_collapse_matches_reference_for_random_stacks(student, reference, rng):
    for depth in (2, 3, 5):
        sizes, weights, biases = _layers(rng, depth)
        W, b = student.collapse(weights, biases)
        assert tuple(W.shape) == (sizes[-1], sizes[0]), f"W should have shape {(sizes[-1], sizes[0])}, got {tuple(W.shape)}"
        assert_close([W, b], list(reference.collapse(weights, biases)), rtol=1e-9, atol=1e-9)


@question("01-collapse", points=0.5)
def test_collapse_of_one_layer_is_that_layer(student, rng):
    _, weights, biases = _layers(rng, 1)
    W, b = student.collapse(weights, biases)
    assert_close([W, b], [weights[0], biases[0]])
