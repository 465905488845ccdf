"""nblib.data.scan: SCAN generated from its grammar, the published counts, the three splits."""
import collections

import pytest
import torch

from nblib.data import scan


def execute(command: str) -> list[str]:
    """An independent reading of SCAN's semantics (Lake & Baroni 2018, Fig. 1 and Table 1)."""
    words = command.split()
    for conj in ("and", "after"):
        if conj in words:
            i = words.index(conj)
            left, right = execute(" ".join(words[:i])), execute(" ".join(words[i + 1:]))
            return left + right if conj == "and" else right + left
    if words[-1] in ("twice", "thrice"):
        return execute(" ".join(words[:-1])) * (2 if words[-1] == "twice" else 3)
    act = [] if words[0] == "turn" else ["I_" + words[0].upper()]
    if len(words) == 1:
        return act
    turn = ["I_TURN_" + words[-1].upper()]
    if words[1] == "opposite":
        return turn + turn + act
    if words[1] == "around":
        return (turn + act) * 4
    return turn + act


def test_the_grammar_generates_20910_distinct_commands():
    pairs = scan.scan_pairs()
    assert len(pairs) == 20_910
    assert len({c for c, _ in pairs}) == 20_910


def test_every_action_sequence_follows_the_semantics():
    for command, actions in scan.scan_pairs():
        assert actions.split() == execute(command), command


@pytest.mark.parametrize("command, actions", [
    ("jump", "I_JUMP"),
    ("turn left twice", "I_TURN_LEFT I_TURN_LEFT"),
    ("jump opposite left", "I_TURN_LEFT I_TURN_LEFT I_JUMP"),
    ("walk around right", " ".join(["I_TURN_RIGHT I_WALK"] * 4)),
    ("turn around left", " ".join(["I_TURN_LEFT"] * 4)),
    ("jump twice after walk left", "I_TURN_LEFT I_WALK I_JUMP I_JUMP"),
    ("run and look thrice", "I_RUN I_LOOK I_LOOK I_LOOK"),
])
def test_examples_from_the_paper(command, actions):
    assert dict(scan.scan_pairs())[command] == actions


def test_action_lengths_range_from_1_to_48_and_none_has_23():
    lengths = collections.Counter(len(a.split()) for _, a in scan.scan_pairs())
    assert min(lengths) == 1 and max(lengths) == 48 and 23 not in lengths


@pytest.mark.parametrize("split, sizes", [("simple", (16_728, 4_182)),
                                          ("length", (16_990, 3_920)),
                                          ("addprim_jump", (13_204, 7_706))])
def test_split_sizes_and_no_overlap(split, sizes):
    s = scan.load_scan(split)
    assert (len(s.train), len(s.test)) == sizes
    assert not {c for c, _ in s.train} & {c for c, _ in s.test}


def test_length_split_separates_at_22_and_24_actions():
    s = scan.load_scan("length")
    assert max(len(a.split()) for _, a in s.train) == 22
    assert min(len(a.split()) for _, a in s.test) == 24


def test_addprim_jump_trains_on_the_bare_jump_only():
    s = scan.load_scan("addprim_jump")
    assert [c for c, _ in s.train if "jump" in c.split()] == ["jump"]
    assert all("jump" in c.split() for c, _ in s.test)


def test_simple_split_is_fixed_by_its_seed():
    a, b, c = scan.load_scan("simple"), scan.load_scan("simple"), scan.load_scan("simple", seed=1)
    assert a.test == b.test and a.test != c.test


def test_tensors_are_padded_with_sos_and_eos():
    s = scan.load_scan("simple")
    src, tgt = s.tensors("train")
    assert src.shape == (16_728, 10) and tgt.shape == (16_728, 50)  # 9 words + <eos>; 48 + 2
    assert src.dtype == tgt.dtype == torch.int64
    assert (tgt[:, 0] == scan.SOS).all()
    for i in (0, 100, 5000):
        command, actions = s.train[i]
        assert s.src_vocab.decode(src[i]) == command.split()
        assert s.tgt_vocab.decode(tgt[i]) == actions.split()
        n = len(actions.split())
        assert tgt[i, n + 1] == scan.EOS and (tgt[i, n + 2:] == scan.PAD).all()


def test_vocabularies_put_the_specials_first():
    s = scan.load_scan("simple")
    assert s.src_vocab.itos[:3] == ["<pad>", "<sos>", "<eos>"] and len(s.src_vocab) == 16
    assert len(s.tgt_vocab) == 9


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="split must be 'simple', 'length' or 'addprim_jump'"):
        scan.load_scan("random")
    vocab = scan.load_scan("simple").src_vocab
    with pytest.raises(KeyError, match="'fly' is not in the vocabulary"):
        vocab.encode("fly twice")
    with pytest.raises(IndexError, match="outside the vocabulary of 16"):
        vocab.decode([3, 99])
