"""Graded tests of 04-adaptive-avg-pool: equal to F.adaptive_avg_pool2d for random input and
output sizes (output larger than the input, sizes that do not divide), float32 kept, input
unchanged. (Arguments cross the sandbox as plain tensors, so the gradient requirement is checked
by the public check, in the learner's own notebook.)

Output row i averages input rows floor(i H / h) .. ceil((i + 1) H / h) - 1 (likewise columns).
"""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"04-adaptive-avg-pool": [
    "F.adaptive_avg_pool2d", ".adaptive_avg_pool2d", ".adaptive_avg_pool1d",
    ".adaptive_avg_pool3d", ".AdaptiveAvgPool2d", ".adaptive_max_pool2d", "F.interpolate",
    ".interpolate", "torch._C", "nblib", "getattr", "eval", "exec", "__import__"]}


def _sizes(rng):
    N, C = (int(torch.randint(1, 4, (), generator=rng)) for _ in range(2))
    H, W, h, w = (int(torch.randint(1, 12, (), generator=rng)) for _ in range(4))
    return (N, C, H, W), (h, w)


@question("04-adaptive-avg-pool", points=1)
def test_matches_pytorch_on_random_sizes(student, reference, rng):
    for _ in range(5):
        shape, out = _sizes(rng)
        x = torch.randn(*shape, dtype=torch.float64, generator=rng)
        y = student.adaptive_avg_pool2d(x, out)
        assert_close(y, F.adaptive_avg_pool2d(x, out), rtol=1e-10, atol=1e-12)
        assert_close(y, reference.adaptive_avg_pool2d(x, out), rtol=1e-10, atol=1e-12)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64, generator=rng)   # bands overlap
    assert_close(student.adaptive_avg_pool2d(x, (3, 4)), F.adaptive_avg_pool2d(x, (3, 4)),
                 rtol=1e-10, atol=1e-12)


@question("04-adaptive-avg-pool", points=1)
def test_float32_and_input_unchanged(student, rng):
    shape, out = _sizes(rng)
    x = torch.randn(*shape, generator=rng)
    y = student.adaptive_avg_pool2d(x, out)
    assert_inputs_unchanged(student, (x, out))
    assert_close(y, F.adaptive_avg_pool2d(x, out), rtol=1e-5, atol=1e-6, check_dtype=True)
