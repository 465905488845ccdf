"""nblib.nn.gpt against PyTorch: the GPT equals the same model assembled from nn.Embedding,
nn.TransformerEncoder (pre-norm, GELU, causal) and a tied nn.Linear, forward and gradients in
float64; the key/value cache gives the logits and the samples of a full forward; sampling
follows softmax(logits / temperature) restricted to the top k."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.nn.gpt import GPT, GPTConfig, sample_next

SMALL = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=12)


class TorchGPT(nn.Module):
    """The same architecture from PyTorch's own modules, with our parameter names."""

    def __init__(self, c: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Module()
        self.wpe.weight = nn.Parameter(torch.zeros(c.block_size, c.n_embd))
        layer = nn.TransformerEncoderLayer(c.n_embd, c.n_head, 4 * c.n_embd, 0.0,
                                           activation="gelu", batch_first=True,
                                           norm_first=True, bias=c.bias)
        self.transformer = nn.TransformerEncoder(layer, c.n_layer,
                                                 norm=nn.LayerNorm(c.n_embd, bias=c.bias),
                                                 enable_nested_tensor=False)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe.weight[:T]
        mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=x.dtype)
        return self.lm_head(self.transformer(x, mask=mask, is_causal=True))


def _pair(config, seed=0):
    torch.manual_seed(seed)
    ours = GPT(config).double()
    theirs = TorchGPT(config).double()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    return ours, theirs


def _tokens(B, T, V, seed=1):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bias", [True, False])
def test_forward_and_gradients_equal_a_pytorch_assembly(bias):
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=12, bias=bias)
    ours, theirs = _pair(config)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    idx = _tokens(3, 7, config.vocab_size)
    logits, loss = ours(idx)
    assert loss is None and logits.shape == (3, 7, config.vocab_size)
    ref = theirs(idx)
    torch.testing.assert_close(logits, ref, rtol=1e-10, atol=1e-10)
    dout = torch.randn(ref.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g_ours = torch.autograd.grad(logits, list(ours.parameters()), dout)
    g_theirs = torch.autograd.grad(ref, list(theirs.parameters()), dout)
    for (name, _), a, b in zip(ours.named_parameters(), g_ours, g_theirs):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=name)


def test_output_head_is_tied_to_the_token_embedding_and_counted_once():
    model = GPT(SMALL)
    assert model.lm_head.weight is model.wte.weight
    c = SMALL
    per_layer = 4 * c.n_embd ** 2 + 4 * c.n_embd + 8 * c.n_embd ** 2 + 5 * c.n_embd + 4 * c.n_embd
    expected = (c.vocab_size + c.block_size) * c.n_embd + c.n_layer * per_layer + 2 * c.n_embd
    assert model.num_parameters() == expected == sum(p.numel() for p in model.parameters())


def test_loss_is_the_mean_cross_entropy_of_the_next_tokens():
    ours, _ = _pair(SMALL)
    idx = _tokens(2, 8, SMALL.vocab_size)
    targets = _tokens(2, 8, SMALL.vocab_size, seed=5)
    logits, loss = ours(idx, targets)
    ref = F.cross_entropy(logits.reshape(-1, SMALL.vocab_size), targets.reshape(-1))
    torch.testing.assert_close(loss, ref)


def test_the_future_cannot_change_the_past():
    ours, _ = _pair(SMALL)
    idx = _tokens(2, 8, SMALL.vocab_size)
    changed = idx.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % SMALL.vocab_size
    a, _ = ours(idx)
    b, _ = ours(changed)
    assert torch.equal(a[:, :5], b[:, :5])
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_gpt2_initialisation_scales_the_residual_projections():
    torch.manual_seed(0)
    c = GPTConfig(vocab_size=50, block_size=16, n_layer=8, n_head=4, n_embd=128)
    model = GPT(c)
    layer = model.transformer.layers[0]
    assert abs(layer.linear1.weight.std().item() - 0.02) < 2e-3
    assert abs(layer.self_attn.in_proj_weight.std().item() - 0.02) < 2e-3
    small = 0.02 / math.sqrt(2 * c.n_layer)
    assert abs(layer.linear2.weight.std().item() - small) < 1e-3
    assert abs(layer.self_attn.out_proj.weight.std().item() - small) < 1e-3
    assert layer.linear1.bias.abs().max() == 0 and layer.self_attn.in_proj_bias.abs().max() == 0


@pytest.mark.parametrize("chunks", [(8,), (1,) * 8, (3, 1, 4), (5, 3)])
def test_a_key_value_cache_gives_the_logits_of_one_forward(chunks):
    ours, _ = _pair(SMALL)
    from nblib.nn.transformer import cache_length, new_cache

    idx = _tokens(2, 8, SMALL.vocab_size)
    full, _ = ours(idx)
    cache, start, parts = new_cache(SMALL.n_layer), 0, []
    for n in chunks:
        logits, _ = ours(idx[:, start:start + n], cache=cache)
        parts.append(logits)
        start += n
        assert cache_length(cache) == start
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.7, 3), (1.5, None)])
def test_cached_and_uncached_generation_draw_the_same_tokens(temperature, top_k):
    ours, _ = _pair(SMALL)
    prompt = _tokens(2, 3, SMALL.vocab_size)
    runs = []
    for use_cache in (True, False):
        g = torch.Generator().manual_seed(7)
        runs.append(ours.generate(prompt, 12, temperature, top_k, use_cache=use_cache,
                                  generator=g))
    assert runs[0].shape == (2, 15)          # beyond block_size = 8: the window slides
    assert torch.equal(runs[0], runs[1])
    assert torch.equal(runs[0][:, :3], prompt)


@pytest.mark.parametrize("n", [1, 4, 8])
def test_the_cache_turns_quadratic_and_cubic_work_into_linear_and_quadratic(n):
    # What chapter 13 states about the cost of generating n tokens after a one-token prompt:
    # positions through the projections and feed-forward blocks, n(n+1)/2 -> n; query-key
    # pairs that attention scores, sum of t^2 = n(n+1)(2n+1)/6 -> n(n+1)/2.
    from nblib.nn.transformer import cache_length

    ours = GPT(SMALL)
    calls = []

    def count(module, args, kwargs):
        new = args[0].shape[1]
        cache = kwargs.get("cache")
        calls.append((new, (0 if cache is None else cache_length(cache)) + new))

    ours.register_forward_pre_hook(count, with_kwargs=True)
    totals = {}
    for use_cache in (True, False):
        calls.clear()
        ours.generate(_tokens(1, 1, SMALL.vocab_size), n, use_cache=use_cache)
        totals[use_cache] = (sum(q for q, _ in calls), sum(q * k for q, k in calls))
    assert totals[True] == (n, n * (n + 1) // 2)
    assert totals[False] == (n * (n + 1) // 2, n * (n + 1) * (2 * n + 1) // 6)


def test_top_k_of_one_is_greedy_decoding():
    ours, _ = _pair(SMALL)
    out = ours.generate(_tokens(1, 2, SMALL.vocab_size), 5, top_k=1)
    idx = out[:, :2]
    for t in range(2, 7):
        logits, _ = ours(idx[:, -SMALL.block_size:])
        idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, idx)


def test_generate_restores_training_mode():
    model = GPT(SMALL).train()
    model.generate(_tokens(1, 2, SMALL.vocab_size), 2)
    assert model.training


@pytest.mark.parametrize("temperature, top_k", [(1.0, None), (0.5, None), (2.0, 4)])
def test_samples_follow_the_tempered_top_k_distribution(temperature, top_k):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 9, dtype=torch.float64, generator=g) * 2
    draws = torch.cat([sample_next(logits[[i]].expand(20000, 9), temperature, top_k, g)
                       for i in range(2)], dim=1)                      # (20000, 2)
    z = logits / temperature
    if top_k is not None:
        kth = z.topk(top_k, dim=-1).values[:, -1:]
        z = z.masked_fill(z < kth, float("-inf"))
    target = torch.softmax(z, dim=-1)
    for i in range(2):
        freq = torch.bincount(draws[:, i], minlength=9).double() / 20000
        assert 0.5 * (freq - target[i]).abs().sum() < 0.02
        if top_k is not None:
            assert (freq[target[i] == 0] == 0).all()


def test_bad_input_gets_a_clear_error():
    model = GPT(SMALL)
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.rand(1, 4))
    with pytest.raises(ValueError, match="block_size"):
        model(_tokens(1, 9, SMALL.vocab_size))
    with pytest.raises(IndexError, match=r"\[0, 11\)"):
        model(torch.tensor([[0, 11]]))
    with pytest.raises(ValueError, match="temperature"):
        model.generate(_tokens(1, 2, SMALL.vocab_size), 1, temperature=0.0)
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=4)
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT({"n_layer": 2})


def test_a_training_step_reads_no_values_from_the_device():
    """The per-step path never syncs: on "meta" tensors (no data) any value read would fail."""
    model = GPT(SMALL).to("meta")
    idx = torch.zeros(2, 8, dtype=torch.long, device="meta")
    logits, loss = model(idx, idx)
    loss.backward()
    assert logits.shape == (2, 8, SMALL.vocab_size) and model.wte.weight.grad is not None
