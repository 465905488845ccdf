"""Graded tests of 14-patch-embed-backward: (dx, dweight, dbias) of the patch embedding
out = Conv2d(x; weight, bias, kernel = stride = P) as (B, N, D), for an upstream dout, against
autograd on random sizes (P = 1, one patch, several channels), inputs unchanged, no autograd."""
import torch

from nblib.exercises.ch14 import patch_embed_autograd
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"14-patch-embed-backward": [".backward", "torch.autograd", ".grad", "torch.func",
                                         "functorch", "nblib", "getattr", "eval", "exec",
                                         "__import__"]}


def _problem(rng, P=None, grid=None):
    P = P or int(torch.randint(1, 5, (), generator=rng))
    gh, gw = grid or tuple(int(torch.randint(1, 5, (), generator=rng)) for _ in range(2))
    B, C, D = (int(torch.randint(1, 4, (), generator=rng)) for _ in range(3))
    x = torch.randn(B, C, gh * P, gw * P, dtype=torch.float64, generator=rng)
    weight = torch.randn(D, C, P, P, dtype=torch.float64, generator=rng)
    dout = torch.randn(B, gh * gw, D, dtype=torch.float64, generator=rng)
    return x, weight, dout


def _autograd(x, weight, dout):
    return patch_embed_autograd(x, weight, torch.zeros(weight.shape[0], dtype=x.dtype), dout)


@question("14-patch-embed-backward", points=2)
def test_matches_autograd_on_random_sizes(student, reference, rng):
    for _ in range(3):
        x, weight, dout = _problem(rng)
        got = list(student.patch_embed_backward(x, weight, dout))
        assert_close(got, _autograd(x, weight, dout), rtol=1e-10, atol=1e-12)
        assert_close(got, list(reference.patch_embed_backward(x, weight, dout)), rtol=1e-10,
                     atol=1e-12)


@question("14-patch-embed-backward", points=1)
def test_pixel_patches_one_patch_and_inputs_unchanged(student, rng):
    for P, grid in ((1, None), (None, (1, 1))):
        x, weight, dout = _problem(rng, P=P, grid=grid)
        got = list(student.patch_embed_backward(x, weight, dout))
        assert_inputs_unchanged(student, (x, weight, dout))
        assert_close(got, _autograd(x, weight, dout), rtol=1e-10, atol=1e-12)
