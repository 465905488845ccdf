"""Graded tests of 03-leaky-init: the std of Gaussian weights that keeps the mean square of
leaky-ReLU activations constant through depth, graded by the experiment the exercise describes.

``leaky_layer_gain`` (nblib.exercises.ch03, the public check's experiment) feeds 20 independent
stacks of 20 bias-free leaky-ReLU layers of width ``fan_in`` with standard-normal batches and
averages, over all 400 layers, the ratio of the mean squares of a layer's output and input.
With the exact std its expectation is exactly 1 (given a layer's input, a fresh Gaussian layer
multiplies the expected mean square by fan_in * std^2 * E[leaky(z)^2] / E[z^2]); its standard
deviation is at most about 1 % at width 100 (ReLU, the noisiest slope), so the 5 % tolerance is
5 standard deviations. A std off by 2.5 % or more moves the expectation by 5 % or more: He's
sqrt(2 / fan_in) fails for the slope drawn from [0.8, 1], sqrt(1 / fan_in) for the one from [0, 0.2].
"""
import torch

from nblib.exercises.ch03 import LEAKY_TOLERANCE, leaky_layer_gain
from nblib.grading import question

FORBIDDEN = {"03-leaky-init": ["nn.init", "torch.nn.init", "nblib", "getattr", "eval", "exec",
                               "__import__"]}


@question("03-leaky-init", points=1)
def test_keeps_the_mean_square_through_depth(student, rng):
    for low, high in ((0.0, 0.2), (0.4, 0.7), (0.8, 1.0)):
        slope = low + (high - low) * float(torch.rand((), dtype=torch.float64, generator=rng))
        fan_in = int(torch.randint(100, 251, (), generator=rng))
        std = student.leaky_relu_init_std(fan_in, slope)
        if not isinstance(std, (int, float)) or isinstance(std, bool):
            raise AssertionError(f"leaky_relu_init_std({fan_in}, {slope:.3f}) must return a Python "
                                 f"number (int or float); got {type(std).__name__}")
        gain = leaky_layer_gain(float(std), slope, fan_in,
                                seed=int(torch.randint(2**31, (), generator=rng)))
        if not abs(gain - 1) < LEAKY_TOLERANCE:
            raise AssertionError(f"with std leaky_relu_init_std({fan_in}, {slope:.3f}) = {std:.5g}, a "
                                 f"layer multiplies the mean square by {gain:.3f} on average (needs "
                                 f"1 +- {LEAKY_TOLERANCE:g})")
