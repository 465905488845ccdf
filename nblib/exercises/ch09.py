"""Public checks of chapter 09, LSTM and GRU (registered on import).

The references of the two cell exercises are *not* here (they would be the answers): the
checks compare with literal numbers computed once from the reference solutions, and with
PyTorch's own cells in the special cases where the variants coincide.
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from nblib.data.sequences import copy_baseline, copy_task
from nblib.exercises.expect import expect_close, expect_dtype, expect_shape, expect_true
from nblib.exercises.registry import public_check

__all__ = ["wave", "example_gru", "example_lstm", "COPY_SETTINGS", "copy_model",
           "copy_scores"]


def wave(n: int, *shape: int, k: float = 1.0, dtype=torch.float64) -> torch.Tensor:
    """Deterministic, version-independent test numbers: sin(k * (1..n) + n), reshaped."""
    return torch.sin(k * torch.arange(1, 1 + n, dtype=dtype) + n).reshape(shape)


def example_gru(dtype=torch.float64):
    """x (2, 3), h (2, 2), weight_ih (6, 3), weight_hh (6, 2), bias_ih (6,), bias_hh (6,)."""
    return (wave(6, 2, 3, dtype=dtype), wave(4, 2, 2, k=0.7, dtype=dtype),
            wave(18, 6, 3, k=1.3, dtype=dtype), wave(12, 6, 2, k=0.9, dtype=dtype),
            wave(6, 6, k=2.1, dtype=dtype), wave(6, 6, k=1.7, dtype=dtype))


def example_lstm(dtype=torch.float64):
    """x (2, 3), h, c (2, 2), weight_ih (8, 3), weight_hh (8, 2), biases (8,), peepholes (2,)."""
    return (wave(6, 2, 3, dtype=dtype), wave(4, 2, 2, k=0.7, dtype=dtype),
            wave(4, 2, 2, k=2.9, dtype=dtype), wave(24, 8, 3, k=1.3, dtype=dtype),
            wave(16, 8, 2, k=0.9, dtype=dtype), wave(8, 8, k=2.1, dtype=dtype),
            wave(8, 8, k=1.7, dtype=dtype), wave(2, 2, k=0.3, dtype=dtype),
            wave(2, 2, k=0.5, dtype=dtype), wave(2, 2, k=3.3, dtype=dtype))


def _random(g, *shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype, generator=g)


def _unchanged(args, copies) -> bool:
    return all(torch.equal(a, b) for a, b in zip(args, copies))


# ---------------------------------------------------------------- 09-gru-cell-variant
CHO_EXAMPLE = torch.tensor([[-0.983578600669, -0.677194273815],
                            [0.712562790353, -0.059604197896]], dtype=torch.float64)


@public_check("09-gru-cell-variant")
def _(cho_gru_cell):
    args = example_gru()
    copies = [a.clone() for a in args]
    out = cho_gru_cell(*args)
    expect_shape(out, (2, 2), what="cho_gru_cell(x (2, 3), h (2, 2), ...)",
                 hint=("return the new hidden state only, one row per example",
                       "the result has the shape of h: (B, H)"))
    expect_close(out, CHO_EXAMPLE, rtol=1e-9, atol=1e-10,
                 what="cho_gru_cell on the worked example (nblib.exercises.ch09.example_gru)",
                 hint=("the stacked weights are in PyTorch's order r, z, n; r and z are "
                       "computed exactly as in nn.GRUCell; only the candidate n changes",
                       "in Cho et al.'s candidate the reset gate scales the old state "
                       "*before* the hidden weights W_hn multiply it; split weight_hh and "
                       "bias_hh into their three (H, ...) blocks to get W_hn and b_hn"))
    expect_true(_unchanged(args, copies), "the inputs to be left unchanged",
                hint=("an in-place operation changed an input",
                      "compute new tensors instead of modifying x, h or the weights"))
    # where the two variants coincide: W_hn diagonal and b_hn = 0
    g = torch.Generator().manual_seed(9)
    B, I, H = 5, 4, 3
    ref = nn.GRUCell(I, H).double()
    with torch.no_grad():
        ref.weight_hh[2 * H:] = torch.diag(_random(g, H))
        ref.bias_hh[2 * H:] = 0.0
    x, h = _random(g, B, I), _random(g, B, H)
    params = [p.detach() for p in (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)]
    expect_close(cho_gru_cell(x, h, *params), ref(x, h).detach(), rtol=1e-9, atol=1e-10,
                 what="cho_gru_cell with a diagonal W_hn and b_hn = 0 (where it must equal "
                      "nn.GRUCell)",
                 hint=("with a diagonal W_hn the order of 'multiply by r' and 'multiply by "
                       "W_hn' does not matter: the rest of your cell must be PyTorch's",
                       "check the update: h' = (1 - z) * n + z * h, and the gate order r, z, n"))
    # ... and differ otherwise: PyTorch's variant is not the answer
    ref = nn.GRUCell(I, H).double()
    params = [p.detach() for p in (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)]
    gap = (cho_gru_cell(x, h, *params) - ref(x, h).detach()).abs().max().item()
    expect_true(gap > 1e-6, "Cho et al.'s cell to differ from nn.GRUCell for general weights "
                f"(max difference {gap:.1e})",
                hint=("this is PyTorch's variant, r * (W_hn h + b_hn)",
                      "Cho et al. reset the state before the matrix product"))
    out32 = cho_gru_cell(*example_gru(torch.float32))
    expect_dtype(out32, torch.float32, what="cho_gru_cell on float32 inputs",
                 hint=("keep the inputs' dtype", "avoid torch.tensor(...) or .double()"))
    one = cho_gru_cell(x[:1], h[:1], *params)
    expect_shape(one, (1, H), what="cho_gru_cell on a batch of one",
                 hint="index the weights, not the batch: a batch of one is still (1, I)")


# ------------------------------------------------------------- 09-peephole-lstm-cell
PEEPHOLE_EXAMPLE = (
    torch.tensor([[-0.152756702775, -0.215973710337],
                  [0.072709620035, -0.089534715873]], dtype=torch.float64),
    torch.tensor([[-0.381478066336, -0.301479767833],
                  [0.133398331061, -0.157553034138]], dtype=torch.float64))
# the same example with w_ci = w_cf = 0: only the output gate peeks (at the new c)
OUTPUT_PEEPHOLE_EXAMPLE = (
    torch.tensor([[-0.157262058825, -0.216816199510],
                  [0.070729488349, -0.087168357102]], dtype=torch.float64),
    torch.tensor([[-0.391756468096, -0.302811272211],
                  [0.129533673147, -0.153105658599]], dtype=torch.float64))


@public_check("09-peephole-lstm-cell")
def _(peephole_lstm_cell):
    args = example_lstm()
    copies = [a.clone() for a in args]
    out = peephole_lstm_cell(*args)
    expect_true(isinstance(out, (tuple, list)) and len(out) == 2,
                "peephole_lstm_cell to return two tensors (h_new, c_new)",
                hint="return the pair (h', c'), both (B, H)")
    for got, name in zip(out, ("h_new", "c_new")):
        expect_shape(got, (2, 2), what=f"{name} on the worked example", hint="(B, H)")
    # zero peepholes: nn.LSTMCell
    g = torch.Generator().manual_seed(4)
    B, I, H = 4, 3, 5
    ref = nn.LSTMCell(I, H).double()
    x, h, c = _random(g, B, I), _random(g, B, H), _random(g, B, H)
    params = [p.detach() for p in (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)]
    zero = torch.zeros(H, dtype=torch.float64)
    got = peephole_lstm_cell(x, h, c, *params, zero, zero, zero)
    expected = [t.detach() for t in ref(x, (h, c))]
    for a, b, name in zip(got, expected, ("h_new", "c_new")):
        expect_close(a, b, rtol=1e-9, atol=1e-10,
                     what=f"{name} with all peephole weights 0 (it must equal nn.LSTMCell)",
                     hint=("without peepholes this is the LSTM of section 1, gate order i, f, "
                           "g, o", "c' = f * c + i * g and h' = o * tanh(c')"))
    only_out = list(args)
    only_out[7], only_out[8] = torch.zeros(2, dtype=torch.float64), torch.zeros(2,
                                                                               dtype=torch.float64)
    for a, b, name in zip(peephole_lstm_cell(*only_out), OUTPUT_PEEPHOLE_EXAMPLE,
                          ("h_new", "c_new")):
        expect_close(a, b, rtol=1e-9, atol=1e-10,
                     what=f"{name} on the worked example with only the output peephole w_co",
                     hint=("which cell state can the output gate see: the old c or the new one?",
                           "the output gate is computed after the cell state is updated, so "
                           "it peeks at c_new; the input and forget gates see the old c"))
    for a, b, name in zip(out, PEEPHOLE_EXAMPLE, ("h_new", "c_new")):
        expect_close(a, b, rtol=1e-9, atol=1e-10,
                     what=f"{name} on the worked example (nblib.exercises.ch09.example_lstm)",
                     hint=("each peephole weight is a vector: it scales the cell state "
                           "elementwise (a diagonal matrix), it is not a matrix product",
                           "the input and forget gates peek at the old c, the output gate "
                           "at the new c"))
    expect_true(_unchanged(args, copies), "the inputs to be left unchanged",
                hint=("an in-place operation changed an input",
                      "compute new tensors instead of modifying h, c or the weights"))
    h32, c32 = peephole_lstm_cell(*example_lstm(torch.float32))
    expect_dtype(h32, torch.float32, what="h_new on float32 inputs", hint="keep the dtype")


# ----------------------------------------------------------------------- 09-copy-task
COPY_SETTINGS = dict(delay=5, n_symbols=4, n_categories=4)  # L = 13 steps, C = 6 tokens
COPY_KEYS = ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
             "head.weight", "head.bias")


class CopyNet(nn.Module):
    """One-hot tokens -> a one-layer GRU or LSTM -> a linear read-out at every step."""

    def __init__(self, kind: str, n_tokens: int, hidden: int):
        super().__init__()
        self.n_tokens = n_tokens
        self.rnn = (nn.GRU if kind == "GRU" else nn.LSTM)(n_tokens, hidden, batch_first=True)
        self.head = nn.Linear(hidden, n_tokens)

    def forward(self, tokens):                                  # (B, L) int64
        out, _ = self.rnn(F.one_hot(tokens, self.n_tokens).to(self.head.weight.dtype))
        return self.head(out)                                   # (B, L, C) logits


def copy_model(state, n_tokens: int, max_hidden: int = 256) -> CopyNet:
    """Build the model that ``state`` (a dict of tensors named as in ``COPY_KEYS``) describes:
    a GRU if ``rnn.weight_ih_l0`` has 3H rows, an LSTM if 4H. Raises ValueError otherwise."""
    if not isinstance(state, dict) or set(state) != set(COPY_KEYS):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"expected a dict with exactly the keys {list(COPY_KEYS)}, got {got}")
    H = int(state["rnn.weight_hh_l0"].shape[-1])
    rows = int(state["rnn.weight_ih_l0"].shape[0])
    if not 1 <= H <= max_hidden or rows not in (3 * H, 4 * H):
        raise ValueError(f"rnn.weight_hh_l0 must be (3H, H) for a GRU or (4H, H) for an LSTM "
                         f"with H <= {max_hidden}; got weight_ih {tuple(state['rnn.weight_ih_l0'].shape)}"
                         f" and weight_hh {tuple(state['rnn.weight_hh_l0'].shape)}")
    model = CopyNet("GRU" if rows == 3 * H else "LSTM", n_tokens, H)
    model.load_state_dict({k: torch.as_tensor(v).float() for k, v in state.items()})
    return model


def copy_scores(state, x: torch.Tensor, y: torch.Tensor, n_symbols: int) -> tuple[float, float]:
    """(mean cross-entropy per step in nats, accuracy on the recalled symbols) of ``state``."""
    n_tokens = int(x.max()) + 1
    model = copy_model(state, n_tokens)
    with torch.no_grad():
        logits = model(x)
    ce = F.cross_entropy(logits.reshape(-1, n_tokens), y.reshape(-1)).item()
    acc = (logits[:, -n_symbols:].argmax(-1) == y[:, -n_symbols:]).float().mean().item()
    return ce, acc


@public_check("09-copy-task")
def _(train_copy):
    s = COPY_SETTINGS
    x, y = copy_task(2000, **s, seed=90)
    start = time.process_time()  # CPU time: fair on a busy shared machine too
    state = train_copy(x, y, 0)
    seconds = time.process_time() - start
    expect_true(isinstance(state, dict), "train_copy to return a dict of tensors (a state_dict)",
                hint=("return the trained model's parameters, not the model",
                      "a module with submodules named rnn and head gives the right keys: "
                      "{k: v.detach() for k, v in model.state_dict().items()}"))
    try:
        copy_model(state, s["n_categories"] + 2)
    except (ValueError, RuntimeError) as err:
        expect_true(False, f"the returned parameters to describe the stated model ({err})",
                    hint=("rnn = nn.GRU(C, H, batch_first=True) or nn.LSTM(...), one layer, "
                          "and head = nn.Linear(H, C), with C = n_categories + 2 tokens",
                          "the inputs are one-hot vectors of length C; the keys are "
                          + ", ".join(COPY_KEYS)))
    x_new, y_new = copy_task(1000, **s, seed=91)
    ce, acc = copy_scores(state, x_new, y_new, s["n_symbols"])
    base = copy_baseline(**s)
    hints = ("train longer, or with a larger learning rate: the loss falls below the memoryless "
             "baseline only once the network stores the symbols",
             "a GRU with 64 units, Adam with a learning rate around 1e-2, batches of about 100 "
             "and a few hundred steps is enough; clip the gradient norm to 1")
    expect_true(ce <= 0.5 * base, f"a cross-entropy on 1000 new sequences of at most half the "
                f"memoryless baseline, {0.5 * base:.3f} nats (got {ce:.3f})", hint=hints)
    expect_true(acc >= 0.8, f"at least 80 % of the recalled symbols right (got {100 * acc:.1f} %)",
                hint=hints)
    expect_true(seconds < 10.0, f"training to take under 10 s of CPU time (took {seconds:.1f} s)",
                hint=("fewer steps, a smaller hidden layer or larger batches",
                      "the grader stops the question after 10 s"))
