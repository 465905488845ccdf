"""Graded tests of 03-leaky-init: the std that keeps leaky-ReLU activations' mean square
constant through depth, sqrt(2 / ((1 + a^2) fan_in)) (He et al. 2015)."""
import torch

from nblib.exercises.ch03 import leaky_depth_ratio
from nblib.grading import assert_close, question


@question("03-leaky-init", points=1)
def test_matches_reference_and_keeps_the_signal(student, reference, rng):
    for _ in range(3):
        fan_in = int(torch.randint(10, 2000, (), generator=rng))
        slope = float(torch.rand((), generator=rng))
        std = student.leaky_relu_init_std(fan_in, slope)
        assert_close(float(std), reference.leaky_relu_init_std(fan_in, slope), rtol=1e-9)
    # Through 20 random layers the signal must evolve exactly as with the reference's std (the
    # mean square itself drifts with the random draw, so it is compared, not bounded).
    slope = float(torch.rand((), generator=rng)) * 0.5
    seed = int(torch.randint(1000, (), generator=rng))
    ratios = [leaky_depth_ratio(float(who.leaky_relu_init_std(128, slope)), slope, depth=20,
                                width=128, seed=seed) for who in (student, reference)]
    assert_close(ratios[0], ratios[1], rtol=1e-6)
