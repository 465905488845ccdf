"""Graded tests of 01-local-affine: the affine map a ReLU network computes around a point.

Requirements (stated in the exercise, checked publicly in a smaller form): ReLU after every
layer but the last, the map (W (d_out, d_in), b (d_out,)) equals the network at x0 and on the
inputs around x0 that share its activation pattern, one layer gives that layer, dtype kept.
"""
import torch

from nblib.exercises.ch01 import relu_net
from nblib.grading import assert_close, assert_inputs_unchanged, question


def _net(rng, depth, dtype=torch.float64):
    """A random ReLU network and a point x0 where some hidden unit is off (if it has hidden units)."""
    while True:
        sizes = ([int(torch.randint(1, 7, (), generator=rng))]
                 + [int(s) for s in torch.randint(3, 7, (depth - 1,), generator=rng)]
                 + [int(torch.randint(1, 7, (), generator=rng))])
        weights = [torch.randn(o, i, dtype=torch.float64, generator=rng) for i, o in zip(sizes, sizes[1:])]
        biases = [torch.randn(o, dtype=torch.float64, generator=rng) for o in sizes[1:]]
        x0 = torch.randn(sizes[0], dtype=torch.float64, generator=rng) * 2
        pattern = _pattern(weights, biases, x0)
        if depth == 1 or (not all(bool(p.all()) for p in pattern) and any(bool(p.any()) for p in pattern)):
            return [w.to(dtype) for w in weights], [b.to(dtype) for b in biases], x0.to(dtype)


def _pattern(weights, biases, x):
    h, pattern = x, []
    for w, b in zip(weights[:-1], biases[:-1]):
        z = h @ w.T + b
        pattern.append(z > 0)
        h = torch.clamp(z, min=0)
    return pattern


@question("01-local-affine", points=1)
def test_matches_reference_on_random_relu_networks(student, reference, rng):
    for depth in (2, 3, 4):
        weights, biases, x0 = _net(rng, depth)
        W, b = student.local_affine_map(weights, biases, x0)
        assert_inputs_unchanged(student, (weights, biases, x0), positions=(2,))  # stated: x0 kept
        shape = (weights[-1].shape[0], weights[0].shape[1])
        assert tuple(W.shape) == shape, f"W should have shape {shape}, got {tuple(W.shape)}"
        assert_close([W, b], list(reference.local_affine_map(weights, biases, x0)), rtol=1e-9, atol=1e-9)


@question("01-local-affine", points=0.5)
def test_the_map_equals_the_network_around_x0(student, rng):
    weights, biases, x0 = _net(rng, 3)
    W, b = student.local_affine_map(weights, biases, x0)
    assert_close(x0 @ W.T + b, relu_net(weights, biases, x0), rtol=1e-9, atol=1e-9)
    for _ in range(3):
        x = x0 + 1e-3 * torch.randn(x0.shape, dtype=torch.float64, generator=rng)
        while any(bool((p != q).any()) for p, q in zip(_pattern(weights, biases, x),
                                                        _pattern(weights, biases, x0))):
            x = x0 + (x - x0) / 10                  # closer, until the pattern is x0's
        assert_close(x @ W.T + b, relu_net(weights, biases, x), rtol=1e-9, atol=1e-9)


@question("01-local-affine", points=0.5)
def test_one_layer_and_float32(student, reference, rng):
    weights, biases, x0 = _net(rng, 1)
    assert_close(list(student.local_affine_map(weights, biases, x0)), [weights[0], biases[0]])
    weights, biases, x0 = _net(rng, 2, dtype=torch.float32)
    W, b = student.local_affine_map(weights, biases, x0)
    W_ref, b_ref = reference.local_affine_map(weights, biases, x0)
    assert_close(W, W_ref, rtol=1e-5, atol=1e-6, check_dtype=True)
    assert_close(b, b_ref, rtol=1e-5, atol=1e-6)
