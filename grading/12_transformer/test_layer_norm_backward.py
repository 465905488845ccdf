"""Graded tests of 12-layer-norm-backward: (dx, dweight, dbias) of layer normalisation over
the last dimension of x (..., D), against autograd on shapes and inputs drawn from the grader's
seed, for D = 1 and for a spread tiny compared with eps; the inputs unchanged."""
import torch

from nblib.exercises.ch12 import layer_norm_autograd
from nblib.grading import assert_close, assert_inputs_unchanged, question

FORBIDDEN = {"12-layer-norm-backward": [".backward", "torch.autograd", ".grad", "torch.func",
                                        "functorch", "layer_norm", ".layer_norm", ".native_layer_norm",
                                        "LayerNorm", ".LayerNorm", "nblib",
                                        "getattr", "eval", "exec", "__import__"]}


def _problem(rng, D=None, spread=1.0):
    ndim = int(torch.randint(1, 4, (), generator=rng))            # 1 to 3 leading dims
    lead = [int(torch.randint(1, 5, (), generator=rng)) for _ in range(ndim)]
    D = D or int(torch.randint(2, 12, (), generator=rng))
    x = torch.randn(*lead, D, dtype=torch.float64, generator=rng) * spread \
        + torch.randn((), dtype=torch.float64, generator=rng) * 3
    w = torch.randn(D, dtype=torch.float64, generator=rng)
    dout = torch.randn(*lead, D, dtype=torch.float64, generator=rng)
    return x, w, dout


@question("12-layer-norm-backward", points=2)
def test_matches_autograd_on_random_shapes(student, reference, rng):
    for _ in range(3):
        x, w, dout = _problem(rng)
        out = list(student.layer_norm_backward(x, w, dout))
        assert_inputs_unchanged(student, (x, w, dout))
        assert_close(out, layer_norm_autograd(x, w, dout), rtol=1e-7, atol=1e-9)
        assert_close(out, list(reference.layer_norm_backward(x, w, dout)), rtol=1e-7,
                     atol=1e-9)


@question("12-layer-norm-backward", points=1)
def test_one_feature_and_a_tiny_spread(student, rng):
    for D, spread in ((1, 1.0), (None, 1e-3)):
        x, w, dout = _problem(rng, D=D, spread=spread)
        out = list(student.layer_norm_backward(x, w, dout))
        assert all(torch.isfinite(t).all() for t in out), "a gradient is not finite"
        assert_close(out, layer_norm_autograd(x, w, dout), rtol=1e-7, atol=1e-9)
