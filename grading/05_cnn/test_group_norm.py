"""Graded tests of 05-group-norm: group normalisation (Wu & He 2018) against F.group_norm, on
random shapes and group counts (layer norm and instance norm are the two extremes)."""
import torch
import torch.nn.functional as F

from nblib.grading import assert_close, question

FORBIDDEN = {"05-group-norm": [".group_norm", "torch.nn.functional.group_norm", "torch.group_norm", ".GroupNorm", ".layer_norm", "torch.nn.functional.layer_norm",
                               ".LayerNorm", ".instance_norm", ".InstanceNorm1d", ".InstanceNorm2d",
                               ".batch_norm", "nblib", "getattr", "eval", "exec", "__import__"]}


def _problem(rng, ndim, dtype=torch.float64):
    groups = int(torch.randint(1, 5, (), generator=rng))
    c = groups * int(torch.randint(1, 4, (), generator=rng))
    # Two examples at least: F.group_norm refuses a batch of one whose groups hold one value each
    # ("Expected more than 1 value per channel"); with two, a group of one value still occurs.
    n = int(torch.randint(2, 5, (), generator=rng))
    rest = [int(torch.randint(1, 6, (), generator=rng)) for _ in range(ndim - 2)]
    x = torch.randn(n, c, *rest, dtype=dtype, generator=rng) * 2 + 1
    w, b = torch.randn(c, dtype=dtype, generator=rng), torch.randn(c, dtype=dtype, generator=rng)
    return x, groups, w, b


@question("05-group-norm", points=1)
def test_matches_torch_on_random_images(student, reference, rng):
    for _ in range(3):
        x, groups, w, b = _problem(rng, 4)
        eps = 10.0 ** int(torch.randint(-6, -2, (), generator=rng))
        out = student.group_norm(x, groups, w, b, eps)
        assert_close(out, F.group_norm(x, groups, w, b, eps), rtol=1e-7, atol=1e-9)
        assert_close(out, reference.group_norm(x, groups, w, b, eps), rtol=1e-7, atol=1e-9)


@question("05-group-norm", points=1)
def test_any_rank_layer_and_instance_norm_and_float32(student, rng):
    for ndim in (2, 3, 5):
        x, groups, w, b = _problem(rng, ndim)
        assert_close(student.group_norm(x, groups, w, b, 1e-5), F.group_norm(x, groups, w, b, 1e-5),
                     rtol=1e-7, atol=1e-9)
    x, _, w, b = _problem(rng, 4)
    c = x.shape[1]
    for groups in (1, c):  # layer norm over (C, H, W), instance norm per channel
        assert_close(student.group_norm(x, groups, w, b, 1e-5), F.group_norm(x, groups, w, b, 1e-5),
                     rtol=1e-7, atol=1e-9)
    x32 = x.float()
    assert_close(student.group_norm(x32, 1, w.float(), b.float(), 1e-5),
                 F.group_norm(x32, 1, w.float(), b.float(), 1e-5), rtol=1e-4, atol=1e-5, check_dtype=True)
