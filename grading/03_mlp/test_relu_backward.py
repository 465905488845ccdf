"""Graded tests of 03-relu-backward: dZ = dA * [Z > 0], zero at Z == 0 as in PyTorch."""
import torch

from nblib.grading import assert_close, question

FORBIDDEN = {"03-relu-backward": [".backward", "torch.autograd", ".grad", "torch.func", "functorch",
                                  "nblib", "getattr", "eval", "exec", "__import__"]}


@question("03-relu-backward", points=1)
def test_matches_autograd_including_exact_zeros(student, reference, rng):
    Z = torch.randn(6, 5, dtype=torch.float64, generator=rng)
    Z[torch.rand(6, 5, generator=rng) < 0.2] = 0.0  # exact zeros: the derivative there is 0
    dA = torch.randn(6, 5, dtype=torch.float64, generator=rng)
    leaf = Z.clone().requires_grad_()
    torch.relu(leaf).backward(dA)
    out = student.relu_backward(Z, dA)
    assert_close(out, leaf.grad, rtol=0, atol=0)
    assert_close(out, reference.relu_backward(Z, dA), rtol=0, atol=0)
