"""Chapter 12's graded exercises cannot be passed by a shortcut: returning the input unchanged
(12-rotary), an ordinary causal mask that ignores the packing (12-packed-mask), the backward
pass of another normalisation (12-layer-norm-backward: batch norm's statistics) or parameters
that were never trained (12-train-reverser) all score 0 points."""
import csv
import json

import pytest

from nblib.grading.grade import grade
from paths import ROOT

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


def _with_body(nb, question, body):
    cell = next(c for c in nb["cells"]
                if c["metadata"].get("grading", {}).get("question") == question)
    source = "".join(cell["source"])
    head, rest = source.split("    # BEGIN SOLUTION\n")
    cell["source"] = (head + "    # BEGIN SOLUTION\n" + body + "    # END SOLUTION"
                      + rest.split("    # END SOLUTION")[1])


@pytest.mark.slow
def test_shortcuts_score_zero_on_chapter_12(tmp_path):
    nb = json.loads((ROOT / "chapters" / f"{STEM}.ipynb").read_text())
    for question, body in SHORTCUTS.items():
        _with_body(nb, question, body)
    (tmp_path / "subs" / "shortcuts").mkdir(parents=True)
    (tmp_path / "subs" / "shortcuts" / f"{STEM}.ipynb").write_text(json.dumps(nb))
    grade(tmp_path / "subs", tmp_path / "gb.csv", tests=ROOT / "grading",
          masters=ROOT / "chapters", timeout=60, chapters=[STEM])
    with open(tmp_path / "gb.csv", newline="", encoding="utf-8") as f:
        rows = {r["question"]: r for r in csv.DictReader(f)}
    for question in SHORTCUTS:
        row = rows[question]
        assert float(row["points"]) == 0 and row["status"] == "failed", row
