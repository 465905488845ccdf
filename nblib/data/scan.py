"""SCAN (Lake & Baroni 2018), generated from its grammar: all 20,910 command-action pairs.

Commands like ``jump twice after walk left`` map to action sequences like
``I_TURN_LEFT I_WALK I_JUMP I_JUMP``. The grammar (phrase-structure, no recursion beyond
one conjunction) generates every command exactly once::

    C   -> S | S and S | S after S
    S   -> V | V twice | V thrice
    V   -> U | U DIR | U opposite DIR | U around DIR
         | turn DIR | turn opposite DIR | turn around DIR
    U   -> walk | look | run | jump
    DIR -> left | right

Semantics: ``x1 and x2`` is x1's actions then x2's; ``x1 after x2`` is x2's then x1's;
``U DIR`` turns then acts; ``opposite`` turns twice then acts; ``around`` is (turn, act) four
times; ``turn around DIR`` is four turns. 34 V x 3 = 102 S, and 102 + 2 x 102^2 = 20,910 C.

Splits (``load_scan(split)``):

- ``'simple'``: a random 80/20 split with a fixed seed (16,728 / 4,182, as in the paper);
- ``'length'``: commands with at most 22 actions train, 24 or more test (16,990 / 3,920; no
  command has 23);
- ``'addprim_jump'``: every command without ``jump``, plus the bare command ``jump``, train;
  every other command with ``jump`` test (13,204 / 7,706). The original repeats the bare
  ``jump`` many times in its training file; here it appears once.

Vocabularies put ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2 first, so padding is index 0.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import product

import torch

from nblib import validate

__all__ = ["SPLITS", "PAD", "SOS", "EOS", "TokenVocab", "ScanSplit", "scan_pairs", "load_scan"]

PAD, SOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<sos>", "<eos>")
SPLITS = ("simple", "length", "addprim_jump")
PRIMITIVES = ("walk", "look", "run", "jump")
DIRECTIONS = ("left", "right")
COMMAND_WORDS = PRIMITIVES + ("turn",) + DIRECTIONS + ("opposite", "around", "twice", "thrice",
                                                       "and", "after")
ACTIONS = ("I_WALK", "I_LOOK", "I_RUN", "I_JUMP", "I_TURN_LEFT", "I_TURN_RIGHT")


class TokenVocab:
    """Tokens <-> indices, with ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2 first.

    ``encode(tokens)`` gives a list of ints, ``decode(ids)`` the tokens up to the first
    ``<eos>`` (specials dropped); ``batch(seqs, sos, eos)`` pads a list of token lists into a
    ``(B, T)`` int64 tensor.
    """

    def __init__(self, tokens):
        self.itos = list(SPECIALS) + [t for t in tokens if t not in SPECIALS]
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, tokens) -> list[int]:
        if isinstance(tokens, str):
            tokens = tokens.split()
        unknown = [t for t in tokens if t not in self.stoi]
        if unknown:
            raise KeyError(f"token {unknown[0]!r} is not in the vocabulary; expected one of "
                           f"{', '.join(self.itos[3:])}")
        return [self.stoi[t] for t in tokens]

    def decode(self, ids) -> list[str]:
        """Tokens of ``ids`` (a list or 1-D tensor) up to the first <eos>, specials dropped."""
        if isinstance(ids, torch.Tensor):
            validate.tensor("ids", ids, ndim=1, floating=False)
            ids = ids.tolist()
        out = []
        for i in ids:
            if i == EOS:
                break
            if i >= len(self.itos) or i < 0:
                raise IndexError(f"index {i} is outside the vocabulary of {len(self)} tokens")
            if i not in (PAD, SOS):
                out.append(self.itos[i])
        return out

    def batch(self, seqs, sos: bool = False, eos: bool = True) -> torch.Tensor:
        """Pad token lists into a (B, T) int64 tensor: [<sos>] tokens [<eos>] <pad>..."""
        rows = [([SOS] if sos else []) + self.encode(s) + ([EOS] if eos else []) for s in seqs]
        width = max(len(r) for r in rows)
        out = torch.full((len(rows), width), PAD, dtype=torch.int64)
        for i, r in enumerate(rows):
            out[i, :len(r)] = torch.tensor(r)
        return out

    def __repr__(self) -> str:
        return f"TokenVocab({len(self)} tokens: {' '.join(self.itos)})"


def _verbs():
    """The 34 V phrases: (words, actions)."""
    out = []
    for u in PRIMITIVES:
        act = "I_" + u.upper()
        out.append(((u,), (act,)))
        for d in DIRECTIONS:
            turn = "I_TURN_" + d.upper()
            out.append(((u, d), (turn, act)))
            out.append(((u, "opposite", d), (turn, turn, act)))
            out.append(((u, "around", d), (turn, act) * 4))
    for d in DIRECTIONS:
        turn = "I_TURN_" + d.upper()
        out.append((("turn", d), (turn,)))
        out.append((("turn", "opposite", d), (turn, turn)))
        out.append((("turn", "around", d), (turn,) * 4))
    return out


def _sentences():
    """The 102 S phrases: V, V twice, V thrice."""
    out = []
    for words, acts in _verbs():
        out.append((words, acts))
        out.append((words + ("twice",), acts * 2))
        out.append((words + ("thrice",), acts * 3))
    return out


def scan_pairs() -> list[tuple[str, str]]:
    """All 20,910 (command, actions) pairs, as space-separated strings, in a fixed order."""
    s = _sentences()
    pairs = [(w, a) for w, a in s]
    for (w1, a1), (w2, a2) in product(s, s):
        pairs.append((w1 + ("and",) + w2, a1 + a2))
        pairs.append((w1 + ("after",) + w2, a2 + a1))
    return [(" ".join(w), " ".join(a)) for w, a in pairs]


@dataclass(frozen=True)
class ScanSplit:
    """One SCAN split: (command, actions) string pairs and the two vocabularies.

    ``tensors('train')`` gives ``src`` (B, S) = command tokens + <eos>, padded, and ``tgt``
    (B, T) = <sos> + actions + <eos>, padded with <pad> = 0 (so ``tgt[:, :-1]`` is the
    teacher-forcing input and ``tgt[:, 1:]`` the target).
    """

    name: str
    train: list
    test: list
    src_vocab: TokenVocab
    tgt_vocab: TokenVocab

    def tensors(self, part: str) -> tuple[torch.Tensor, torch.Tensor]:
        validate.choice("part", part, ("train", "test"))
        pairs = getattr(self, part)
        src = self.src_vocab.batch([c for c, _ in pairs], eos=True)
        tgt = self.tgt_vocab.batch([a for _, a in pairs], sos=True, eos=True)
        return src, tgt

    def __repr__(self) -> str:
        return (f"ScanSplit({self.name!r}, train={len(self.train)}, test={len(self.test)}, "
                f"src_vocab={len(self.src_vocab)}, tgt_vocab={len(self.tgt_vocab)})")


def load_scan(split: str = "simple", seed: int = 0, test_fraction: float = 0.2) -> ScanSplit:
    """One of SCAN's splits: ``'simple'`` (random, ``seed``), ``'length'``, ``'addprim_jump'``.

    The split is fixed by its rule (and, for 'simple', by ``seed`` and ``test_fraction``),
    independent of a chapter's seed.
    """
    validate.choice("split", split, SPLITS)
    validate.number("test_fraction", test_fraction, gt=0, lt=1)
    pairs = scan_pairs()
    if split == "simple":
        order = list(range(len(pairs)))
        random.Random(seed).shuffle(order)
        n_test = round(test_fraction * len(pairs))
        test_idx = set(order[:n_test])
        train = [p for i, p in enumerate(pairs) if i not in test_idx]
        test = [p for i, p in enumerate(pairs) if i in test_idx]
    elif split == "length":
        train = [p for p in pairs if len(p[1].split()) <= 22]
        test = [p for p in pairs if len(p[1].split()) >= 24]
    else:
        def in_train(cmd):
            return "jump" not in cmd.split() or cmd == "jump"
        train = [p for p in pairs if in_train(p[0])]
        test = [p for p in pairs if not in_train(p[0])]
    return ScanSplit(split, train, test, TokenVocab(COMMAND_WORDS), TokenVocab(ACTIONS))
