"""Graded tests of 09-gru-cell-variant: the GRU cell of Cho et al. (2014), whose reset gate
multiplies the old state *before* the hidden product, n = tanh(W_in x + b_in + W_hn (r * h) + b_hn),
in PyTorch's weight layout (r, z, n). It must differ from nn.GRUCell (PyTorch's variant) and
agree with it where the two coincide (a diagonal W_hn with b_hn = 0)."""
import torch
from torch import nn

from nblib.grading import assert_close, question
from nblib.grading.api import assert_inputs_unchanged

FORBIDDEN = {"09-gru-cell-variant": ["nblib", "torch.gru_cell", ".gru_cell", "nn.GRUCell", "nn.GRU",
                                     "getattr", "eval", "exec",
                                     "__import__", "_VF"]}


def _problem(rng, dtype=torch.float64):
    B, I, H = (int(torch.randint(1, 7, (), generator=rng)) for _ in range(3))
    x = torch.randn(B, I, dtype=dtype, generator=rng)
    h = torch.randn(B, H, dtype=dtype, generator=rng)
    weights = [torch.randn(3 * H, I, dtype=dtype, generator=rng),
               torch.randn(3 * H, H, dtype=dtype, generator=rng),
               torch.randn(3 * H, dtype=dtype, generator=rng),
               torch.randn(3 * H, dtype=dtype, generator=rng)]
    return [x, h] + weights


@question("09-gru-cell-variant", points=1)
def test_matches_the_reference_on_random_shapes(student, reference, rng):
    for _ in range(3):
        args = _problem(rng)
        out = student.cho_gru_cell(*args)
        assert_inputs_unchanged(student, tuple(args))
        assert_close(out, reference.cho_gru_cell(*args), rtol=1e-9, atol=1e-11)


@question("09-gru-cell-variant", points=1)
def test_equals_pytorch_only_where_the_variants_coincide(student, rng):
    x, h, w_ih, w_hh, b_ih, b_hh = _problem(rng)
    H = h.shape[1]
    ref = nn.GRUCell(x.shape[1], H).double()
    with torch.no_grad():
        for p, v in zip(ref.parameters(), (w_ih, w_hh, b_ih, b_hh)):
            p.copy_(v)
        general = ref(x, h)
        ref.weight_hh[2 * H:] = torch.diag(torch.randn(H, dtype=torch.float64, generator=rng))
        ref.bias_hh[2 * H:] = 0.0
        diagonal = ref(x, h)
    params = [p.detach().clone() for p in ref.parameters()]
    assert_close(student.cho_gru_cell(x, h, *params), diagonal, rtol=1e-9, atol=1e-11)
    gap = (student.cho_gru_cell(x, h, w_ih, w_hh, b_ih, b_hh) - general).abs().max().item()
    assert gap > 1e-8, "this is PyTorch's GRU variant, not Cho et al.'s"


@question("09-gru-cell-variant", points=1)
def test_float32_keeps_its_dtype(student, reference, rng):
    args = _problem(rng, torch.float32)
    out = student.cho_gru_cell(*args)
    assert_close(out, reference.cho_gru_cell(*args), rtol=1e-4, atol=1e-5, check_dtype=True)
