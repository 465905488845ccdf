"""BERT's WordPiece tokenizer from scratch (Wu et al. 2016, "Google's neural machine translation
system", section 4.1; Devlin et al. 2019, "BERT", section 3), equal to Hugging Face's
``BertTokenizer`` / ``tokenizers``' ``BertNormalizer`` + ``BertPreTokenizer`` + ``WordPiece``.

Text becomes token ids in two stages:

1. **Basic tokenisation** (words and punctuation): drop control characters and turn every kind
   of white space into a space; put spaces around CJK ideographs (each is a word); lower-case;
   strip accents (decompose, NFD, and drop the combining marks: ``"café" -> "cafe"``); split on
   white space, and split every punctuation character off as a word of its own
   (``"don't" -> "don", "'", "t"``).
2. **WordPiece** (sub-words): each word is cut greedily, longest match first, into pieces of a
   fixed vocabulary; a piece that continues a word carries the prefix ``##``
   (``"tokenization" -> "token", "##ization"``). A word that cannot be cut, or is longer than
   100 characters, becomes ``[UNK]``.

``[CLS]`` opens every sequence and ``[SEP]`` closes it; a batch is padded with ``[PAD]`` (id 0)
to its longest sequence, with an ``attention_mask`` of 1 at real tokens and 0 at padding.
"""
from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import torch

from nblib import validate

__all__ = ["WordPieceTokenizer", "basic_tokenize"]

# The CJK Unicode blocks BERT treats as one word per character.
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    """ASCII symbols (``$``, ``+``, ``^``, ...) count as punctuation, as in BERT."""
    cp = ord(ch)
    return (33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
            or unicodedata.category(ch).startswith("P"))


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK)


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) != "Mn")


def basic_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Stage 1: words and punctuation marks, cleaned (and lower-cased, accents stripped)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    cleaned = []
    for ch in text:
        if ord(ch) == 0 or ord(ch) == 0xFFFD or _is_control(ch):
            continue
        if _is_whitespace(ch):
            cleaned.append(" ")
        elif _is_cjk(ch):
            cleaned.append(f" {ch} ")
        else:
            cleaned.append(ch)
    words = []
    for word in "".join(cleaned).split():
        if lowercase:
            word = _strip_accents(word.lower())
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                words += [current, ch] if current else [ch]
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


class WordPieceTokenizer:
    """``WordPieceTokenizer(vocab)``: ``vocab`` lists the pieces in id order (``vocab.txt``).

    ``tokenize(text) -> list[str]``; ``tokenizer(texts) -> {"input_ids", "token_type_ids",
    "attention_mask"}``, each ``(B, T)`` int64, padded to the longest text and truncated to
    ``max_length`` tokens (``[CLS]`` and ``[SEP]`` included).
    """

    def __init__(self, vocab, *, lowercase: bool = True, max_length: int = 512,
                 unk_token: str = "[UNK]", cls_token: str = "[CLS]", sep_token: str = "[SEP]",
                 pad_token: str = "[PAD]", max_input_chars_per_word: int = 100) -> None:
        self.itos = list(vocab)
        self.stoi = {piece: i for i, piece in enumerate(self.itos)}
        for name, tok in (("unk_token", unk_token), ("cls_token", cls_token),
                          ("sep_token", sep_token), ("pad_token", pad_token)):
            if tok not in self.stoi:
                raise ValueError(f"{name} {tok!r} is not in the vocabulary of "
                                 f"{len(self.itos)} pieces")
        self.lowercase = bool(lowercase)
        self.max_length = validate.integer("max_length", max_length, ge=2)
        self.unk_token, self.cls_token = unk_token, cls_token
        self.sep_token, self.pad_token = sep_token, pad_token
        self.pad_token_id = self.stoi[pad_token]
        self.max_input_chars_per_word = max_input_chars_per_word
        specials = [t for t in (unk_token, cls_token, sep_token, pad_token, "[MASK]")
                    if t in self.stoi]
        self._specials = re.compile("(" + "|".join(map(re.escape, specials)) + ")")

    @classmethod
    def from_file(cls, vocab_file, **kwargs) -> "WordPieceTokenizer":
        """Read ``vocab.txt``: one piece per line, the line number is its id."""
        lines = Path(vocab_file).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines, **kwargs)

    def __len__(self) -> int:
        return len(self.itos)

    def wordpiece(self, word: str) -> list[str]:
        """Stage 2: ``word`` cut greedily into the longest pieces of the vocabulary."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:                       # the longest piece that matches
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.stoi:
                    break
                end -= 1
            if end == start:                         # no piece fits: the word is unknown
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` (without ``[CLS]`` and ``[SEP]`` around it). A special
        token written in the text (``"[SEP]"``, case and all) stays one token, as in BERT."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        pieces = []
        for i, part in enumerate(self._specials.split(text)):
            if i % 2:                                # a special token, kept whole
                pieces.append(part)
            else:
                pieces += [p for w in basic_tokenize(part, self.lowercase)
                           for p in self.wordpiece(w)]
        return pieces

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        unk = self.stoi[self.unk_token]
        return [self.stoi.get(t, unk) for t in tokens]

    def convert_ids_to_tokens(self, ids) -> list[str]:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return [self.itos[i] for i in ids]

    def __call__(self, texts: str | list[str], *, max_length: int | None = None,
                 device=None) -> dict[str, torch.Tensor]:
        """Token ids of one text or a batch, ``[CLS] pieces [SEP]``, padded and truncated."""
        if isinstance(texts, str):
            texts = [texts]
        if not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a str or a non-empty list of str")
        max_length = self.max_length if max_length is None else validate.integer(
            "max_length", max_length, ge=2)
        rows = []
        for text in texts:
            pieces = self.tokenize(text)[:max_length - 2]
            rows.append(self.convert_tokens_to_ids([self.cls_token, *pieces, self.sep_token]))
        T = max(len(r) for r in rows)
        ids = torch.full((len(rows), T), self.pad_token_id, dtype=torch.int64)
        mask = torch.zeros(len(rows), T, dtype=torch.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        return {"input_ids": ids.to(device), "token_type_ids": torch.zeros_like(ids, device=device),
                "attention_mask": mask.to(device)}

    def __repr__(self) -> str:
        return (f"WordPieceTokenizer({len(self)} pieces, lowercase={self.lowercase}, "
                f"max_length={self.max_length})")
