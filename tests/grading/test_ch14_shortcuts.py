"""Chapter 14's graded tests give nothing for the shortcuts its exercises invite: unpatchify as
a plain reshape of the patches (it runs, has the right shape, and scrambles the pixels), the
patch embedding's backward returning its inputs, or computed by autograd (which the exercise
forbids), and the position table returned unchanged. The requirement checked only by the
self-check, as the chapter says, is unpatchify's "no Python loops": the self-check reads the
code and fails a loop; the graded tests check the values, so a loop that gets them right keeps
its points."""
import json

import pytest
import torch
import torch.nn.functional as F

import nblib.exercises.ch14  # noqa: F401  (registers the public checks)
from nblib.exercises.verdict import check
from nblib.grading.grade import grade
from paths import ROOT
from submissions import FIXED_SEED, master, read_gradebook, with_solution

STEM = "14_vision_transformer"
SHORTCUTS = {
    "14-unpatchify": "    return patches.reshape(patches.shape[0], -1, height, width)\n",
    "14-patch-embed-backward": "    return x, weight, dout.sum(dim=(0, 1))\n",
    "14-resize-pos-embed": "    return pos\n",
}
BY_AUTOGRAD = (
    "    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight)]\n"
    "    P = weight.shape[-1]\n"
    "    out = F.conv2d(leaves[0], leaves[1], stride=P).flatten(2).transpose(1, 2)\n"
    "    dx, dweight = torch.autograd.grad(out, leaves, dout)\n"
    "    return dx, dweight, dout.sum(dim=(0, 1))\n")
WITH_A_LOOP = (  # right values, one patch at a time
    "    B, N, K = patches.shape\n"
    "    P = patch_size\n"
    "    C, gw = K // (P * P), width // P\n"
    "    x = torch.zeros(B, C, height, width, dtype=patches.dtype)\n"
    "    for n in range(N):\n"
    "        r, c = n // gw * P, n % gw * P\n"
    "        x[:, :, r:r + P, c:c + P] = patches[:, n].reshape(B, C, P, P)\n"
    "    return x\n")


@pytest.mark.slow
def test_shortcuts_score_zero(tmp_path):
    subs = tmp_path / "subs"
    (subs / "shortcuts").mkdir(parents=True)
    nb = master(STEM)
    for question, body in SHORTCUTS.items():
        with_solution(nb, question, body)
    (subs / "shortcuts" / f"{STEM}.ipynb").write_text(json.dumps(nb))
    (subs / "autograd-and-loop").mkdir()
    nb = with_solution(master(STEM), "14-patch-embed-backward", BY_AUTOGRAD)
    with_solution(nb, "14-unpatchify", WITH_A_LOOP)
    (subs / "autograd-and-loop" / f"{STEM}.ipynb").write_text(json.dumps(nb))
    grade(subs, tmp_path / "gb.csv", tests=ROOT / "grading", masters=ROOT / "chapters",
          timeout=60, chapters=[STEM], seed=FIXED_SEED)
    by = read_gradebook(tmp_path / "gb.csv")
    for question in SHORTCUTS:
        row = by[("shortcuts", question)]
        assert float(row["points"]) == 0 and row["status"] == "failed", row
    row = by[("autograd-and-loop", "14-patch-embed-backward")]
    assert float(row["points"]) == 0 and row["status"] == "failed", row
    assert "torch.autograd" in row["message"], row
    row = by[("autograd-and-loop", "14-unpatchify")]            # loops: the self-check's
    assert row["status"] == "passed" and row["points"] == row["max_points"], row


def _backward_by_autograd(x, weight, dout):
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, weight)]
    P = weight.shape[-1]
    out = F.conv2d(leaves[0], leaves[1], stride=P).flatten(2).transpose(1, 2)
    dx, dweight = torch.autograd.grad(out, leaves, dout)
    return dx, dweight, dout.sum(dim=(0, 1))


def _unpatchify_with_a_loop(patches, patch_size, height, width):
    B, N, K = patches.shape
    P = patch_size
    C, gw = K // (P * P), width // P
    x = torch.zeros(B, C, height, width, dtype=patches.dtype)
    for n in range(N):
        r, c = n // gw * P, n % gw * P
        x[:, :, r:r + P, c:c + P] = patches[:, n].reshape(B, C, P, P)
    return x


@pytest.mark.parametrize("question, fn, what", [
    ("14-patch-embed-backward", _backward_by_autograd, "no autograd"),
    ("14-unpatchify", _unpatchify_with_a_loop, "no Python loops")])
def test_the_self_check_fails_what_the_exercise_forbids(question, fn, what, capsys, monkeypatch):
    """Right values, forbidden means: the public check reads the code and says so."""
    monkeypatch.delenv("NBLIB_STRICT_CHECKS", raising=False)
    assert check(question, fn) is False
    out = capsys.readouterr().out
    assert out.startswith(f"FAIL {question}") and what in out, out
