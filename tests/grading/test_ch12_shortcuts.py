"""Chapter 12's graded exercises cannot be passed by a shortcut: returning the input unchanged
(12-rotary), an ordinary causal mask that ignores the packing (12-packed-mask), the backward
pass of another normalisation (12-layer-norm-backward: batch norm's statistics) or parameters
that were never trained (12-train-reverser) all score 0 points."""
import json

import pytest

from nblib.grading.grade import grade
from paths import ROOT
from submissions import FIXED_SEED, master, read_gradebook, with_solution

STEM = "12_transformer"
SHORTCUTS = {
    "12-rotary": "    return x\n",
    "12-packed-mask": "    T = segments.shape[1]\n"
                      "    causal = torch.ones(T, T, dtype=torch.bool).tril()\n"
                      "    return causal.expand(segments.shape[0], T, T)\n",
    "12-layer-norm-backward": (  # statistics over the batch (dim 0): batch norm, not layer norm
        "    mu = x.mean(dim=0, keepdim=True)\n"
        "    var = ((x - mu) ** 2).mean(dim=0, keepdim=True)\n"
        "    rstd = 1.0 / torch.sqrt(var + eps)\n"
        "    xhat = (x - mu) * rstd\n"
        "    lead = tuple(range(x.dim() - 1))\n"
        "    g = dout * weight\n"
        "    dx = rstd * (g - g.mean(0, keepdim=True) - xhat * (g * xhat).mean(0, keepdim=True))\n"
        "    return dx, (dout * xhat).sum(dim=lead), dout.sum(dim=lead)\n"),
    "12-train-reverser": (  # the right model and keys, never trained
        "    torch.manual_seed(seed)\n"
        "    model = nn.Module()\n"
        "    model.embed = nn.Embedding(10, 32)\n"
        "    model.pos = nn.Embedding(8, 32)\n"
        "    model.layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0,\n"
        "                                             batch_first=True)\n"
        "    model.head = nn.Linear(32, 10)\n"
        "    return {k: v.detach() for k, v in model.state_dict().items()}\n"),
}


@pytest.mark.slow
def test_shortcuts_score_zero_on_chapter_12(tmp_path):
    nb = master(STEM)
    for question, body in SHORTCUTS.items():
        with_solution(nb, question, body)
    (tmp_path / "subs" / "shortcuts").mkdir(parents=True)
    (tmp_path / "subs" / "shortcuts" / f"{STEM}.ipynb").write_text(json.dumps(nb))
    grade(tmp_path / "subs", tmp_path / "gb.csv", tests=ROOT / "grading",
          masters=ROOT / "chapters", timeout=60, chapters=[STEM], seed=FIXED_SEED)
    rows = read_gradebook(tmp_path / "gb.csv")
    for question in SHORTCUTS:
        row = rows[("shortcuts", question)]
        assert float(row["points"]) == 0 and row["status"] == "failed", row
