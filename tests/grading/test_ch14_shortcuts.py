"""Chapter 14's graded tests give nothing for the shortcuts its exercises invite: unpatchify as
a plain reshape of the patches (it runs, has the right shape, and scrambles the pixels), the
patch embedding's backward returning its inputs, and the position table returned unchanged."""
import csv
import json

import pytest

from nblib.grading.grade import grade
from paths import ROOT

STEM = "14_vision_transformer"
SHORTCUTS = {
    "14-unpatchify": "    return patches.reshape(patches.shape[0], -1, height, width)\n",
    "14-patch-embed-backward": "    return x, weight, dout.sum(dim=(0, 1))\n",
    "14-resize-pos-embed": "    return pos\n",
}


def read_gradebook(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {(r["student"], r["question"]): r for r in csv.DictReader(f)}


def _with_body(nb: dict, question: str, body: str) -> dict:
    cell = next(c for c in nb["cells"]
                if c["metadata"].get("grading", {}).get("question") == question)
    source = "".join(cell["source"])
    head, rest = source.split("    # BEGIN SOLUTION\n")
    cell["source"] = (head + "    # BEGIN SOLUTION\n" + body + "    # END SOLUTION"
                      + rest.split("    # END SOLUTION")[1])
    return nb


@pytest.mark.slow
def test_shortcuts_score_zero(tmp_path):
    subs = tmp_path / "subs"
    (subs / "shortcuts").mkdir(parents=True)
    nb = json.loads((ROOT / "chapters" / f"{STEM}.ipynb").read_text())
    for question, body in SHORTCUTS.items():
        nb = _with_body(nb, question, body)
    (subs / "shortcuts" / f"{STEM}.ipynb").write_text(json.dumps(nb))
    grade(subs, tmp_path / "gb.csv", tests=ROOT / "grading", masters=ROOT / "chapters",
          timeout=60, chapters=[STEM])
    by = read_gradebook(tmp_path / "gb.csv")
    for question in SHORTCUTS:
        row = by[("shortcuts", question)]
        assert float(row["points"]) == 0 and row["status"] == "failed", row
