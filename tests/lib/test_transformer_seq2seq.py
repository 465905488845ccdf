"""nblib.nn.transformer_seq2seq: the encoder-decoder equals the same model assembled from
torch.nn pieces (nn.Embedding, nn.TransformerEncoder / nn.TransformerDecoder with copied
weights, nn.Linear), forward and gradients in float64, pre-norm and post-norm; greedy decoding
with the key/value cache equals decoding without it; padding and future tokens change nothing
they must not; a checkpoint round-trips; bad input raises a clear error."""
import math

import pytest
import torch
from torch import nn

from nblib.nn.positional import sinusoidal_encoding
from nblib.nn.transformer_seq2seq import EOS, PAD, SOS, TransformerSeq2Seq

V_SRC, V_TGT, D, NH, FF = 11, 8, 16, 4, 32


def model(norm_first=True, positional="sinusoidal", layers=2, seed=0, max_len=40):
    torch.manual_seed(seed)
    return TransformerSeq2Seq(V_SRC, V_TGT, D, NH, layers, layers, FF, dropout=0.0,
                              norm_first=norm_first, max_len=max_len,
                              positional=positional).double()


def tokens(B, T, vocab, g, lengths=None, sos=False):
    """(B, T) random token ids >= 3, <pad> after each row's length (the first column <sos>)."""
    x = torch.randint(3, vocab, (B, T), generator=g)
    if lengths is not None:
        x[torch.arange(T)[None, :] >= torch.as_tensor(lengths)[:, None]] = PAD
    if sos:
        x[:, 0] = SOS
    return x


class TorchReference(nn.Module):
    """The same model from torch.nn: embeddings * sqrt(C) + sinusoids, nn.TransformerEncoder and
    nn.TransformerDecoder (batch_first), a final nn.LayerNorm when pre-norm, nn.Linear."""

    def __init__(self, ours: TransformerSeq2Seq, layers: int, norm_first: bool):
        super().__init__()
        kw = dict(d_model=D, nhead=NH, dim_feedforward=FF, dropout=0.0, batch_first=True,
                  norm_first=norm_first)
        self.src_embed = nn.Embedding(V_SRC, D, padding_idx=PAD)
        self.tgt_embed = nn.Embedding(V_TGT, D, padding_idx=PAD)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(**kw), layers, enable_nested_tensor=False,
            norm=nn.LayerNorm(D) if norm_first else None)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(**kw), layers,
                                             norm=nn.LayerNorm(D) if norm_first else None)
        self.out = nn.Linear(D, V_TGT)
        self.double()
        self.load_state_dict(ours.state_dict(), strict=True)

    def forward(self, src, tgt_in):
        S, T = src.shape[1], tgt_in.shape[1]
        # the model keeps its table as a float32 buffer (built once), as most code does
        pe = sinusoidal_encoding(max(S, T), D, dtype=torch.float32).double()
        pad = src == PAD
        memory = self.encoder(self.src_embed(src) * math.sqrt(D) + pe[:S],
                              src_key_padding_mask=pad)
        causal = nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
        h = self.decoder(self.tgt_embed(tgt_in) * math.sqrt(D) + pe[:T], memory,
                         tgt_mask=causal, memory_key_padding_mask=pad)
        return self.out(h)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("layers", [1, 2])
def test_forward_and_gradients_equal_the_model_built_from_torch_nn(norm_first, layers):
    g = torch.Generator().manual_seed(layers)
    ours = model(norm_first, layers=layers)
    with torch.no_grad():  # move the norms and biases off their trivial initialisation
        for name, p in ours.named_parameters():
            if "norm" in name or "bias" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    theirs = TorchReference(ours, layers, norm_first)
    src = tokens(3, 6, V_SRC, g, lengths=[6, 4, 1])
    tgt = tokens(3, 5, V_TGT, g, lengths=[5, 5, 2], sos=True)
    a, b = ours(src, tgt), theirs(src, tgt)
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    dout = torch.randn(a.shape, generator=g, dtype=a.dtype)
    ga = torch.autograd.grad(a, list(ours.parameters()), dout)
    gb = torch.autograd.grad(b, list(theirs.parameters()), dout)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-10)


def test_parameter_names_are_the_paper_figure_pieces():
    names = [n for n, _ in model().named_parameters()]
    assert names[:2] == ["src_embed.weight", "tgt_embed.weight"]
    assert "encoder.layers.1.self_attn.in_proj_weight" in names
    assert "decoder.layers.0.multihead_attn.out_proj.weight" in names
    assert names[-2:] == ["out.weight", "out.bias"]
    assert "src_pos.weight" in [n for n, _ in model(positional="learned").named_parameters()]


@pytest.mark.parametrize("norm_first, positional", [(True, "sinusoidal"), (False, "learned")])
def test_cached_greedy_decoding_equals_decoding_without_the_cache(norm_first, positional):
    g = torch.Generator().manual_seed(3)
    m = model(norm_first, positional).eval()
    src = tokens(6, 7, V_SRC, g, lengths=[7, 5, 3, 7, 1, 2])
    a = m.greedy_decode(src, max_len=12)
    b = m.greedy_decode(src, max_len=12, use_cache=False)
    assert torch.equal(a, b)
    # and each step's choice is the argmax of one teacher-forced forward over the prefix
    tgt_in = torch.cat([torch.full((6, 1), SOS), a[:, :-1]], dim=1)
    best = m(src, tgt_in).argmax(-1)
    ended = (a == EOS).long().cumsum(1) - (a == EOS).long()  # an <eos> before position t
    alive = ended == 0                                        # positions after it are padding
    assert torch.equal(best[alive], a[alive])


def test_greedy_decoding_stops_at_eos_and_pads_after_it():
    m = model().eval()
    with torch.no_grad():  # a model that always says <eos> after two tokens: bias the output
        m.out.weight.zero_()
        m.out.bias.zero_()
        m.out.bias[3] = 1.0
    src = tokens(4, 5, V_SRC, torch.Generator().manual_seed(0))
    out = m.greedy_decode(src, max_len=9)
    assert out.shape == (4, 9) and (out == 3).all()  # never <eos>: runs to max_len
    with torch.no_grad():
        m.out.bias[EOS] = 2.0
    out = m.greedy_decode(src, max_len=9)
    assert out.shape == (4, 1) and (out == EOS).all()  # every row done: the loop stops


def test_padding_in_the_source_and_the_rest_of_the_batch_change_nothing():
    g = torch.Generator().manual_seed(5)
    m = model()
    src = tokens(3, 5, V_SRC, g, lengths=[5, 3, 2])
    tgt = tokens(3, 4, V_TGT, g, sos=True)
    a = m(src, tgt)
    longer = torch.cat([src, torch.zeros(3, 4, dtype=torch.long)], dim=1)  # more <pad>
    torch.testing.assert_close(m(longer, tgt), a, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(m(src[1:2, :3], tgt[1:2]), a[1:2], rtol=1e-12, atol=1e-12)


def test_the_decoder_never_reads_the_future():
    g = torch.Generator().manual_seed(6)
    m = model()
    src, tgt = tokens(2, 5, V_SRC, g), tokens(2, 6, V_TGT, g, sos=True)
    changed = tgt.clone()
    changed[:, 4:] = tokens(2, 2, V_TGT, g)
    torch.testing.assert_close(m(src, changed)[:, :4], m(src, tgt)[:, :4], rtol=0, atol=0)


def test_save_and_load_round_trip(tmp_path):
    m = model(norm_first=False, positional="learned").float()
    m.save(tmp_path / "m.pt", steps=7, note="test")
    back = TransformerSeq2Seq.load(tmp_path / "m.pt")
    assert back.info == {"steps": 7, "note": "test"} and not back.training
    assert back.config == m.config
    for (n, p), (n2, q) in zip(m.state_dict().items(), back.state_dict().items()):
        assert n == n2 and torch.equal(p, q)
    m.save(tmp_path / "half.pt", dtype=torch.float16)
    half = TransformerSeq2Seq.load(tmp_path / "half.pt")
    assert half.out.weight.dtype == torch.float32
    torch.testing.assert_close(half.out.weight, m.out.weight, rtol=1e-3, atol=1e-3)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="config and state_dict"):
        TransformerSeq2Seq.load(tmp_path / "other.pt")


def test_clear_errors():
    m = model(max_len=10)
    src = torch.tensor([[3, 4, 2]])
    with pytest.raises(TypeError, match="src"):
        m(src.float(), src)
    with pytest.raises(ValueError, match=r"token ids in \[0, 11\)"):
        m(torch.tensor([[3, 40]]), torch.tensor([[SOS]]))
    with pytest.raises(ValueError, match="same batch size"):
        m(src, torch.tensor([[SOS], [SOS]]))
    with pytest.raises(ValueError, match="max_len = 10"):
        m(src, torch.full((1, 11), SOS))
    with pytest.raises(ValueError, match="max_len"):
        m.greedy_decode(src, max_len=10)
    with pytest.raises(ValueError, match="src_key_padding_mask"):
        m(src, torch.tensor([[SOS]]), src_key_padding_mask=torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="positional"):
        TransformerSeq2Seq(5, 5, positional="rotary")
