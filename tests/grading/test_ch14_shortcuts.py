"""Chapter 14's graded tests give nothing for the shortcuts its exercises invite: unpatchify as
a plain reshape of the patches (it runs, has the right shape, and scrambles the pixels), the
patch embedding's backward returning its inputs, and the position table returned unchanged."""
import json

import pytest

from nblib.grading.grade import grade
from paths import ROOT
from submissions import master, read_gradebook, with_solution

STEM = "14_vision_transformer"
SHORTCUTS = {
    "14-unpatchify": "    return patches.reshape(patches.shape[0], -1, height, width)\n",
    "14-patch-embed-backward": "    return x, weight, dout.sum(dim=(0, 1))\n",
    "14-resize-pos-embed": "    return pos\n",
}


@pytest.mark.slow
def test_shortcuts_score_zero(tmp_path):
    subs = tmp_path / "subs"
    (subs / "shortcuts").mkdir(parents=True)
    nb = master(STEM)
    for question, body in SHORTCUTS.items():
        with_solution(nb, question, body)
    (subs / "shortcuts" / f"{STEM}.ipynb").write_text(json.dumps(nb))
    grade(subs, tmp_path / "gb.csv", tests=ROOT / "grading", masters=ROOT / "chapters",
          timeout=60, chapters=[STEM])
    by = read_gradebook(tmp_path / "gb.csv")
    for question in SHORTCUTS:
        row = by[("shortcuts", question)]
        assert float(row["points"]) == 0 and row["status"] == "failed", row
