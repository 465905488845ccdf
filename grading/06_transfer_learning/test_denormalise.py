"""Graded tests of 06-denormalise: normalised (N, 3, H, W) images back to uint8 (N, H, W, 3)
with round(255 * (x * std + mean)) clipped to [0, 255], for means and stds from the grader."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"06-denormalise": ["nblib", "torchvision", "getattr", "eval", "exec", "__import__"]}


def _problem(rng):
    n, h, w = (int(torch.randint(1, 9, (), generator=rng)) for _ in range(3))
    mean = [float(v) for v in torch.rand(3, generator=rng) * 0.6 + 0.2]
    std = [float(v) for v in torch.rand(3, generator=rng) * 0.3 + 0.1]
    pixels = torch.randint(0, 256, (n, h, w, 3), generator=rng, dtype=torch.uint8)
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    x = (pixels.permute(0, 3, 1, 2).float() / 255 - m) / s
    return x, mean, std, pixels


@question("06-denormalise", points=1)
def test_round_trip_with_the_graders_mean_and_std(student, rng):
    x, mean, std, pixels = _problem(rng)
    out = student.denormalise(x, mean, std)
    assert_close(out, pixels, rtol=0, atol=0, check_dtype=True)


@question("06-denormalise", points=1)
def test_out_of_range_values_are_clipped(student, reference, rng):
    x, mean, std, _ = _problem(rng)
    x = x * 4 + torch.randn(x.shape, generator=rng) * 3  # far outside [0, 255] in places
    out = student.denormalise(x, mean, std)
    expected = reference.denormalise(x, mean, std)
    if out.dtype != torch.uint8:
        raise AssertionError(f"denormalise must return uint8, got {out.dtype}")
    # the last rounding may differ by one grey level where a value sits on .5
    assert_close(out.int(), expected.int(), rtol=0, atol=1)
