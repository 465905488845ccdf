"""Graded tests of 14-unpatchify: patches (B, N, C*P*P), row by row, each flattened as (C, P, P),
back to images (B, C, H, W), equal to PyTorch's F.fold on random sizes (one patch, P = 1,
non-square images, several channels), dtype kept, input unchanged, no library inverse (the
"no Python loops" requirement is checked by the public check, on the learner's source). A plain
reshape of the patches to (B, C, H, W) scores 0 (tests/grading/test_ch14_shortcuts.py)."""
import torch
import torch.nn.functional as F

from nblib.exercises.ch14 import patches_of
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"14-unpatchify": ["fold", "Fold", ".fold", "nblib", "getattr", "eval", "exec",
                               "__import__"]}


def _problem(rng, dtype=torch.float64, min_channels=1):
    P = int(torch.randint(1, 6, (), generator=rng))
    gh, gw = (int(torch.randint(2, 5, (), generator=rng)) for _ in range(2))
    B = int(torch.randint(1, 4, (), generator=rng))
    C = int(torch.randint(min_channels, 4, (), generator=rng))
    x = torch.randn(B, C, gh * P, gw * P, dtype=dtype, generator=rng)
    return x, P


@question("14-unpatchify", points=1)
def test_inverts_the_cut_on_random_sizes(student, reference, rng):
    for _ in range(4):
        x, P = _problem(rng)
        H, W = x.shape[-2:]
        patches = patches_of(x, P)
        got = student.unpatchify(patches, P, H, W)
        assert_close(got, x, rtol=0, atol=0)
        assert_close(got, F.fold(patches.transpose(1, 2), (H, W), P, stride=P), rtol=0, atol=0)
        assert_close(got, reference.unpatchify(patches, P, H, W), rtol=0, atol=0)


@question("14-unpatchify", points=1)
def test_one_patch_pixel_patches_dtype_and_input_unchanged(student, rng):
    x, P = _problem(rng, dtype=torch.float32, min_channels=2)
    one = x[..., :P, :P]                             # a single patch: N = 1
    assert_close(student.unpatchify(patches_of(one, P), P, P, P), one, rtol=0, atol=0,
                 check_dtype=True)
    H, W = x.shape[-2:]
    patches = patches_of(x, 1)                       # P = 1: every pixel is a patch
    got = student.unpatchify(patches, 1, H, W)
    assert_inputs_unchanged(student, (patches, 1, H, W))
    assert_close(got, x, rtol=0, atol=0, check_dtype=True)
