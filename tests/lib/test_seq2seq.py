"""nblib.nn.seq2seq: attention equals its formula and PyTorch's kernel; the encoder-decoder's
teacher forcing equals step-by-step decoding; padding changes nothing; clear errors."""
import pytest
import torch
import torch.nn.functional as F

from nblib.nn.seq2seq import (AdditiveAttention, LuongAttention, Seq2Seq, masked_softmax,
                              sequence_accuracy)

CASES = [(1, 1, 1), (2, 5, 3), (4, 7, 1), (3, 2, 6)]  # (B, S, T)


def random_mask(B, S, g):
    lengths = torch.randint(1, S + 1, (B,), generator=g)
    return torch.arange(S)[None, :] < lengths[:, None]  # (B, S), at least one True per row


def additive_by_loops(att, q, keys, mask):
    """Bahdanau's formula written one score at a time: e_tj = v . tanh(W_q q_t + W_k k_j + b)."""
    B, T, _ = q.shape
    S = keys.shape[1]
    W_q, W_k, b, v = att.W_q.weight, att.W_k.weight, att.W_k.bias, att.v.weight[0]
    contexts, weights = [], []
    for i in range(B):
        for t in range(T):
            e = torch.stack([v @ torch.tanh(W_q @ q[i, t] + W_k @ keys[i, j] + b) for j in range(S)])
            e = torch.where(mask[i], e, torch.tensor(float("-inf"), dtype=e.dtype))
            a = torch.exp(e - e.max()) / torch.exp(e - e.max()).sum()
            weights.append(a)
            contexts.append((a[:, None] * keys[i]).sum(0))
    return torch.stack(contexts).view(B, T, -1), torch.stack(weights).view(B, T, S)


@pytest.mark.parametrize("B, S, T", CASES)
def test_additive_attention_equals_its_formula_forward_and_backward(B, S, T):
    g = torch.Generator().manual_seed(B * 100 + S * 10 + T)
    dq, dk, h = 3, 4, 5
    att = AdditiveAttention(dq, dk, h).double()
    q = torch.randn(B, T, dq, dtype=torch.float64, generator=g, requires_grad=True)
    keys = torch.randn(B, S, dk, dtype=torch.float64, generator=g, requires_grad=True)
    mask = random_mask(B, S, g)
    ctx, w = att(q, keys, mask)
    ref_ctx, ref_w = additive_by_loops(att, q, keys, mask)
    torch.testing.assert_close(ctx, ref_ctx, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(w, ref_w, rtol=1e-10, atol=1e-12)
    up = torch.randn(B, T, dk, dtype=torch.float64, generator=g)
    params = [q, keys, *att.parameters()]
    ours = torch.autograd.grad((ctx * up).sum(), params)
    theirs = torch.autograd.grad((ref_ctx * up).sum(), params)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("score, B, S, T", [(s, *c) for s in ("dot", "general") for c in CASES])
def test_luong_attention_equals_scaled_dot_product_attention_with_scale_1(score, B, S, T):
    g = torch.Generator().manual_seed(S * 7 + T)
    d, dk = 4, (4 if score == "dot" else 6)
    att = LuongAttention(d, dk, score).double()
    q = torch.randn(B, T, d, dtype=torch.float64, generator=g, requires_grad=True)
    keys = torch.randn(B, S, dk, dtype=torch.float64, generator=g, requires_grad=True)
    mask = random_mask(B, S, g)
    ctx, w = att(q, keys, mask)
    projected = keys if score == "dot" else att.W_a(keys)  # q^T W_a k = q . (W_a k)
    ref = F.scaled_dot_product_attention(q, projected, keys, attn_mask=mask[:, None, :], scale=1.0)
    torch.testing.assert_close(ctx, ref, rtol=1e-10, atol=1e-12)
    up = torch.randn_like(ref)
    params = [q, keys, *att.parameters()]
    ours = torch.autograd.grad((ctx * up).sum(), params, retain_graph=True)
    theirs = torch.autograd.grad((ref * up).sum(), params)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(w.sum(-1), torch.ones(B, T, dtype=torch.float64))


@pytest.mark.parametrize("cls", [AdditiveAttention, LuongAttention])
def test_padding_gets_zero_weight_and_cannot_change_the_context(cls):
    g = torch.Generator().manual_seed(0)
    att = cls(4, 4, 3) if cls is AdditiveAttention else cls(4, 4, "dot")
    q, keys = torch.randn(2, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    mask = torch.tensor([[True, True, False, False, False], [True] * 5])
    ctx, w = att(q, keys, mask)                                     # a single query: (B, dq)
    assert ctx.shape == (2, 4) and w.shape == (2, 5)
    assert (w[0, 2:] == 0).all() and torch.allclose(w.sum(-1), torch.ones(2))
    keys2 = keys.clone()
    keys2[0, 2:] = 1e3 * torch.randn(3, 4, generator=g)
    torch.testing.assert_close(att(q, keys2, mask)[0][0], ctx[0])


def test_additive_attention_passes_gradcheck():
    g = torch.Generator().manual_seed(1)
    att = AdditiveAttention(2, 3, 4).double()
    q = torch.randn(2, 3, 2, dtype=torch.float64, generator=g, requires_grad=True)
    keys = torch.randn(2, 4, 3, dtype=torch.float64, generator=g, requires_grad=True)
    mask = random_mask(2, 4, g)
    assert torch.autograd.gradcheck(lambda a, b: att(a, b, mask)[0], (q, keys))


CONFIGS = [dict(attention=a, cell=c, num_layers=n, bidirectional=bi)
           for a in (None, "additive", "dot", "general") for c in ("gru", "lstm")
           for n, bi in ((1, False), (2, True))
           if not (a == "dot" and bi)]  # dot scores need keys of the decoder's size


def _batch(g, B=4, S=6, T=5, V_src=11, V_tgt=9):
    lengths = torch.randint(2, S + 1, (B,), generator=g)
    src = torch.randint(3, V_src, (B, S), generator=g)
    src[torch.arange(S)[None, :] >= lengths[:, None]] = 0          # <pad> after each source
    lengths[0] = S - 1                                              # every row may be padded
    src[0, S - 1:] = 0
    tgt_in = torch.randint(3, V_tgt, (B, T), generator=g)
    tgt_in[:, 0] = 1                                                 # <sos>
    return src, tgt_in


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(map(str, c.values())))
def test_teacher_forcing_equals_decoding_one_step_at_a_time(cfg):
    """forward (parallel or looped) and greedy_decode's per-step path give the same logits."""
    torch.manual_seed(0)
    model = Seq2Seq(11, 9, embed_size=5, hidden_size=6, **cfg).double().eval()
    src, tgt_in = _batch(torch.Generator().manual_seed(2))
    logits, w = model(src, tgt_in)
    assert logits.shape == (4, 5, 9)
    keys, mask, state, pk, fixed = model._start(src, None)
    for t in range(tgt_in.shape[1]):
        lt, state, wt = model._step(tgt_in[:, t], state, keys, mask, pk, fixed)
        torch.testing.assert_close(lt, logits[:, t], rtol=1e-10, atol=1e-12)
        if cfg["attention"] is not None:
            torch.testing.assert_close(wt, w[:, t], rtol=1e-10, atol=1e-12)
    if cfg["attention"] is None:
        assert w is None
    else:
        assert (w[src[:, None, :].expand_as(w) == 0] == 0).all()   # no weight on <pad>


@pytest.mark.parametrize("cfg", CONFIGS[::3], ids=lambda c: "-".join(map(str, c.values())))
def test_extra_padding_changes_nothing(cfg):
    torch.manual_seed(0)
    model = Seq2Seq(11, 9, embed_size=5, hidden_size=6, **cfg).double().eval()
    src, tgt_in = _batch(torch.Generator().manual_seed(3))
    padded = F.pad(src, (0, 3))
    torch.testing.assert_close(model(padded, tgt_in)[0], model(src, tgt_in)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("attention", [None, "additive", "general"])
def test_greedy_decoding_feeds_back_its_own_argmax(attention):
    torch.manual_seed(1)
    model = Seq2Seq(11, 9, embed_size=5, hidden_size=6, attention=attention).double().eval()
    src, _ = _batch(torch.Generator().manual_seed(4))
    tokens, w = model.greedy_decode(src, max_len=7)
    assert tokens.dtype == torch.int64 and tokens.shape[0] == 4 and tokens.shape[1] <= 7
    tgt_in = torch.cat([torch.ones(4, 1, dtype=torch.long), tokens[:, :-1]], 1)
    logits, _ = model(src, tgt_in)
    pred = logits.argmax(-1)
    for i in range(4):  # up to and including the first <eos>, then <pad>
        row = tokens[i].tolist()
        n = row.index(2) + 1 if 2 in row else len(row)
        assert row[:n] == pred[i, :n].tolist() and all(t == 0 for t in row[n:])
    assert (w is None) == (attention is None)


def test_sequence_accuracy_is_exact_match_up_to_padding():
    pred = torch.tensor([[4, 5, 2, 0], [4, 5, 2, 0], [4, 2, 0, 0]])
    target = torch.tensor([[4, 5, 2], [4, 6, 2], [4, 5, 2]])
    assert sequence_accuracy(pred, target).tolist() == [True, False, False]


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="dot scores need query_size == key_size, got 6 and 12"):
        Seq2Seq(5, 5, hidden_size=6, attention="dot", bidirectional=True)
    with pytest.raises(ValueError, match=r"attention must be None .*'additive'.*'general'.*got 'bahdanau'"):
        Seq2Seq(5, 5, attention="bahdanau")
    with pytest.raises(ValueError, match="dot scores need query_size == key_size"):
        LuongAttention(4, 6, "dot")
    att = AdditiveAttention(4, 3, 5)
    with pytest.raises(ValueError, match=r"query must have shape \(B, 4\) or \(B, T, 4\)"):
        att(torch.randn(2, 3), torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match=r"keys must have shape \(B, S, 3\)"):
        att(torch.randn(2, 4), torch.randn(2, 5, 4))
    with pytest.raises(TypeError, match="mask needs a bool tensor, got torch.float32"):
        masked_softmax(torch.randn(2, 5), torch.ones(2, 5))
    with pytest.raises(TypeError, match="src needs an integer tensor"):
        Seq2Seq(5, 5)(torch.randn(2, 3), torch.ones(2, 3, dtype=torch.long))
