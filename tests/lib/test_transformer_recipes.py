"""nblib.transformer_recipes: batches by length cover every example once; exact match counts a
command only when every action and the <eos> are right; training is reproducible from its seed
(the same model twice), also for Part IV's GRU; and the checkpoints the book ships load and
decode SCAN as their notes say."""
import importlib.resources
import json

import pytest
import torch

from nblib.data import scan
from nblib.nn.seq2seq import Seq2Seq
from nblib.nn.transformer_seq2seq import EOS, PAD, TransformerSeq2Seq
from nblib.transformer_recipes import (ScanRecipe, exact_match, length_batches,
                                       train_scan_transformer)

TINY = ScanRecipe(d_model=16, nhead=2, num_layers=1, dim_feedforward=32, batch_size=32,
                  warmup=2, max_steps=6, eval_every=3, val_size=20)


def test_length_batches_cover_every_example_once_in_batches_of_similar_length():
    lengths = torch.randint(1, 40, (1000,), generator=torch.Generator().manual_seed(0))
    batches = length_batches(lengths, 64, torch.Generator().manual_seed(1))
    seen = torch.cat(batches)
    assert torch.equal(seen.sort().values, torch.arange(1000))
    spread = [int(lengths[b].max() - lengths[b].min()) for b in batches]
    assert max(spread) <= 3  # sorted by length before cutting: each batch is homogeneous


class Parrot(torch.nn.Module):
    """A 'model' whose greedy decoding returns fixed rows, to test exact_match's counting."""

    def __init__(self, rows):
        super().__init__()
        self.rows, self.w = rows, torch.nn.Parameter(torch.zeros(1))

    def greedy_decode(self, src, max_len):
        return self.rows[:len(src), :max_len]


def test_exact_match_needs_every_action_and_the_eos():
    tgt = torch.tensor([[1, 4, 5, EOS, PAD], [1, 4, EOS, PAD, PAD], [1, 6, 6, 6, EOS]])
    src = torch.ones(3, 2, dtype=torch.long)
    pred = torch.tensor([[4, 5, EOS, PAD], [4, 4, EOS, PAD], [6, 6, 6, 6]])  # ok, wrong, no eos
    acc, hits, out = exact_match(Parrot(pred), src, tgt, per_example=True)
    assert hits.tolist() == [True, False, False] and acc == pytest.approx(100 / 3)
    assert out.shape == (3, 5)


def test_training_is_reproducible_from_its_seed():
    ds = scan.load_scan("simple")
    runs = [train_scan_transformer(ds, TINY, seed=3) for _ in range(2)]
    for (m1, h1), (m2, h2) in zip(runs[:1], runs[1:]):
        assert [r["loss"] for r in h1["rows"]] == [r["loss"] for r in h2["rows"]]
        for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
            assert torch.equal(a, b)
    h = runs[0][1]
    assert h["steps"] == 6 and [r["step"] for r in h["rows"]] == [3, 6]
    assert h["train_size"] + h["val_size"] == len(ds.train)
    assert not runs[0][0].training


def test_the_same_loop_trains_part_fours_gru():
    ds = scan.load_scan("simple")
    torch.manual_seed(0)
    gru = Seq2Seq(len(ds.src_vocab), len(ds.tgt_vocab), 8, 16, attention="additive")
    before = [p.detach().clone() for p in gru.parameters()]
    model, hist = train_scan_transformer(ds, TINY, seed=0, model=gru)
    assert model is gru and hist["steps"] == 6
    assert any(not torch.equal(a, b) for a, b in zip(before, gru.parameters()))


CHECKPOINTS = importlib.resources.files("nblib") / "checkpoints"


@pytest.mark.parametrize("split, least", [("simple", 97.0), ("length", 0.0)])
def test_the_shipped_checkpoints_load_and_decode_as_their_notes_say(split, least):
    with importlib.resources.as_file(CHECKPOINTS / f"scan_{split}.pt") as path:
        model = TransformerSeq2Seq.load(path)
        notes = json.loads(path.with_suffix(".json").read_text())
        size = path.stat().st_size
    assert size < 5e6
    assert model.info["split"] == split and model.info["steps"] == notes["steps"]
    assert notes["recipe"]["d_model"] == model.config["d_model"]
    ds = scan.load_scan(split)
    src, tgt = ds.tensors("test")
    torch.set_num_threads(1)
    acc = exact_match(model, src[:300], tgt[:300])
    assert acc >= least
    if split == "simple":
        assert notes["test_exact_match"] >= 99.0
    else:
        assert notes["test_exact_match"] < 20.0
