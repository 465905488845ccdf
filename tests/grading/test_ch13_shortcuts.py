"""Chapter 13's graded tests give no point for a shortcut: returning an input unchanged, leaving
out the part of the computation the exercise is about, or a constant answer."""
import json

import pytest

from nblib.grading.grade import grade
from paths import ROOT
from submissions import FIXED_SEED, master, read_gradebook, with_solution

STEM = "13_language_models"

SHORTCUTS = {
    "13-sliding-window-cache": {
        "returns-the-input": "    return x, k_cache, v_cache\n",
        "no-window": (  # plain causal attention over everything cached, cache never cut
            "    B, t, C = x.shape\n"
            "    hs = C // n_head\n"
            "    q, k, v = (F.linear(x, w).view(B, t, n_head, hs).transpose(1, 2)\n"
            "               for w in w_qkv.split(C))\n"
            "    k = torch.cat([k_cache, k], dim=2)\n"
            "    v = torch.cat([v_cache, v], dim=2)\n"
            "    S = k_cache.shape[2]\n"
            "    allowed = torch.ones(t, S + t, dtype=torch.bool).tril(S)\n"
            "    s = (q @ k.transpose(-2, -1) / math.sqrt(hs)).masked_fill(~allowed, -math.inf)\n"
            "    y = torch.softmax(s, -1) @ v\n"
            "    return y.transpose(1, 2).reshape(B, t, C), k, v\n"),
    },
    "13-pooling-backward": {
        "zeros": "    return torch.zeros_like(hidden)\n",
        "mean-only": (  # the backward of the mean, ignoring the normalisation
            "    m = attention_mask.to(hidden.dtype).unsqueeze(-1)\n"
            "    return m * (grad_e / m.sum(1)).unsqueeze(1)\n"),
    },
    "13-ngram-bits": {
        "uniform": "    return math.log2(vocab_size)\n",
        "public-value": "    return 1.6810529\n",
    },
}


@pytest.mark.slow
def test_shortcuts_score_zero(tmp_path):
    subs = tmp_path / "subs"
    for question, bodies in SHORTCUTS.items():
        for name, body in bodies.items():
            (subs / name).mkdir(parents=True)
            (subs / name / f"{STEM}.ipynb").write_text(json.dumps(with_solution(master(STEM), question, body)))
    grade(subs, tmp_path / "gb.csv", tests=ROOT / "grading", masters=ROOT / "chapters",
          timeout=60, chapters=[STEM], seed=FIXED_SEED)
    rows = read_gradebook(tmp_path / "gb.csv")
    for question, bodies in SHORTCUTS.items():
        for name in bodies:
            row = rows[(name, question)]
            assert float(row["points"]) == 0 and row["status"] == "failed", row
        # the other questions of the same submissions keep the reference's full marks
        other = next(q for q in SHORTCUTS if q != question)
        row = rows[(next(iter(bodies)), other)]
        assert row["status"] == "passed" and row["points"] == row["max_points"], row
