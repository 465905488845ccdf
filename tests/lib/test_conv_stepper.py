"""Specification of nblib.widgets.conv: the convolution stepper's frames are right, and the
real front end (stepper.js) draws them in a browser.

Frames: one setup frame, one frame per output cell in row-major order, one last frame. In each
cell frame the caption writes the cell as its sum of products and ends with its value, which
equals ``F.conv2d``'s; the outlined input cells are exactly the window (stride, padding,
dilation); the output matrix is filled up to that cell.

Browser: the stepper's synced state is put on the fixture page of ``tests/fixtures/steppers``
(the same stand-in for an anywidget model that test_stepper_renderers.py uses) and driven in
headless Chromium with Next / Prev / Last: every step shows the frame's caption, the output
cells written so far and the outlined window. The book's own browser test (test_book.py)
additionally drives the stepper in the rendered chapter 04.
"""
import json
import re
import shutil
import sys

import pytest
import torch
import torch.nn.functional as F

from nblib.widgets import Stepper
from nblib.widgets.conv import ConvStepper, conv_frames
from paths import BUILD, FIXTURES, TESTS

CASES = [  # (H, W, kh, kw, stride, padding, dilation, bias)
    (5, 5, 3, 3, 1, 0, 1, 0.0),
    (5, 6, 3, 3, 2, 1, 1, 0.5),
    (6, 6, 2, 2, 1, 0, 2, 0.0),
    (7, 5, 3, 2, 2, 2, 1, -1.0),
    (4, 4, 1, 1, 1, 0, 1, 0.0),
]
VALUE_AT_END = re.compile(r"y\[(\d+), (\d+)\] = .* = (-?[0-9.e+-]+)\.$")


def _problem(case, seed, integers):
    H, W, kh, kw = case[:4]
    g = torch.Generator().manual_seed(seed)
    if integers:  # exact in any format: the caption's number must be F.conv2d's exactly
        return (torch.randint(-3, 4, (H, W), generator=g).double(),
                torch.randint(-2, 3, (kh, kw), generator=g).double())
    return (torch.randn(H, W, dtype=torch.float64, generator=g),
            torch.randn(kh, kw, dtype=torch.float64, generator=g))


def _reference(x, w, case):
    *_, s, p, d, b = case
    return F.conv2d(x[None, None], w[None, None], torch.tensor([b], dtype=torch.float64),
                    stride=s, padding=p, dilation=d)[0, 0]


@pytest.mark.parametrize("integers", [True, False], ids=["integers", "floats"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_every_output_cell_caption_equals_conv2d(case, integers):
    x, w = _problem(case, 0, integers)
    *_, s, p, d, b = case
    frames = conv_frames(x, w, bias=b, stride=s, padding=p, dilation=d)
    ref = _reference(x, w, case)
    ho, wo = ref.shape
    cells = frames[1:-1]
    assert len(frames) == ho * wo + 2
    assert [f["cell"] for f in cells] == [[i, j] for i in range(ho) for j in range(wo)]
    for f in cells:
        i, j = f["cell"]
        m = VALUE_AT_END.search(f["caption"])
        assert m, f["caption"]
        assert (int(m.group(1)), int(m.group(2))) == (i, j)
        shown, expected = float(m.group(3)), ref[i, j].item()
        if integers:
            assert shown == expected == f["value"], (f["caption"], expected)
        else:  # the caption writes 4 significant digits
            assert abs(shown - expected) <= 5e-4 * max(1.0, abs(expected)), (shown, expected)
            assert abs(f["value"] - expected) <= 1e-4 * max(1.0, abs(expected))
        # as many products in the sum as kernel entries, plus the bias
        assert f["caption"].count("×") == w.numel()
        if b:
            assert f" + {b:g} = " in f["caption"] or f" + ({b:g}) = " in f["caption"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "x".join(map(str, c)))
def test_window_output_and_products_are_drawn_right(case):
    x, w = _problem(case, 1, True)
    H, W, kh, kw, s, p, d, _ = case
    frames = conv_frames(x, w, bias=case[-1], stride=s, padding=p, dilation=d)
    ref = _reference(x, w, case)
    xp = F.pad(x, (p, p, p, p))
    for k, f in enumerate(frames[1:-1]):
        i, j = f["cell"]
        inp, kernel, products, out = f["matrices"]
        assert inp["data"] == xp.tolist() and kernel["data"] == w.tolist()
        window = sorted(map(tuple, inp["highlight"]))
        assert window == sorted((s * i + d * u, s * j + d * v)
                                for u in range(kh) for v in range(kw))
        assert products["data"] == [[xp[a, b].item() * w[u, v].item()
                                     for v, b in enumerate(range(s * j, s * j + d * kw, d))]
                                    for u, a in enumerate(range(s * i, s * i + d * kh, d))]
        assert out["highlight"] == [[i, j]]
        flat = [v for row in out["data"] for v in row]
        assert flat[:k + 1] == ref.flatten()[:k + 1].tolist()   # filled so far ...
        assert all(v is None for v in flat[k + 1:])             # ... and not beyond
    assert frames[-1]["matrices"][3]["data"] == ref.tolist()
    assert "largest difference 0.0e+00" in frames[-1]["caption"]
    assert "pad" in " ".join(inp["row_labels"]) if p else "pad" not in inp["row_labels"]


def test_setup_frame_states_the_output_size_formula():
    frames = conv_frames(torch.zeros(5, 6), torch.ones(3, 3), stride=2, padding=1)
    assert "⌊(5 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1 = 3 rows" in frames[0]["caption"]
    assert "= 3 columns" in frames[0]["caption"]


def test_conv_stepper_is_a_matrix_stepper_with_a_title():
    st = ConvStepper([[1, 2, 0], [0, 1, 3], [2, 2, 1]], [[1, -1], [0, 2]], dilation=1)
    assert isinstance(st, Stepper) and st.renderer == "matrix"
    assert repr(st) == "ConvStepper(steps=6, renderer='matrix', title='A 2×2 kernel over a 3×3 input')"


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match=r"2-D matrix .* got shape \(1, 5, 5\)"):
        conv_frames(torch.zeros(1, 5, 5), torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"within 12 x 12 cells, got 14 x 14"):
        conv_frames(torch.zeros(12, 12), torch.ones(3, 3), padding=1)
    with pytest.raises(ValueError, match=r"covers 5 x 5 cells .* has 4 x 4"):
        conv_frames(torch.zeros(4, 4), torch.ones(3, 3), dilation=2)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        conv_frames(torch.zeros(4, 4), torch.ones(3, 3), stride=0)


# ---------------------------------------------------------------- in a real browser

@pytest.mark.browser
def test_the_stepper_steps_in_a_browser(tmp_path):
    sys.path.insert(0, str(TESTS / "book"))
    import sitecheck

    try:
        sitecheck.find_chromium()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    from playwright.sync_api import sync_playwright

    x, w = _problem(CASES[1], 2, True)
    widget = ConvStepper(x, w, bias=0.5, stride=2, padding=1, interval=100)
    state = widget.get_state()
    for name in ("index.html", "harness.js"):
        shutil.copy(FIXTURES / "steppers" / name, tmp_path / name)
    (tmp_path / "stepper.js").write_text(state["_esm"], encoding="utf-8")
    (tmp_path / "stepper.css").write_text(state["_css"], encoding="utf-8")
    synced = {k: state[k] for k in ("frames", "renderer", "title", "step", "interval")}
    (tmp_path / "models.json").write_text(json.dumps([{"id": "conv", "state": synced}]))
    frames, n = widget.frames, len(widget.frames)
    shots = BUILD / "screenshots" / "conv_stepper"
    shots.mkdir(parents=True, exist_ok=True)

    def fmt(v):  # stepper.js's fmt for these numbers (integers and halves)
        return "?" if v is None else (str(int(v)) if float(v).is_integer() else repr(float(v)))

    with sitecheck.serve(tmp_path) as url, sync_playwright() as pw:
        ctx = sitecheck.launch(pw, tmp_path / "profile")
        report = sitecheck.PageReport(url + "index.html")
        page = ctx.new_page()
        sitecheck.block_external(page, report.external)
        sitecheck.watch(page, report)
        page.goto(report.url, wait_until="load")
        page.wait_for_function("document.body.dataset.ready || document.body.dataset.error")
        assert not page.evaluate("document.body.dataset.error || ''")
        box = page.locator('section[data-stepper="conv"] .nbs-stepper')
        assert sitecheck.step_label(box) == (1, n)
        for k in range(n):
            frame = frames[k]
            assert sitecheck.step_label(box) == (k + 1, n)
            caption = box.locator(".nbs-caption").inner_text()
            assert caption == f"Step {k + 1} of {n}. {frame['label']}. {frame['caption']}"
            texts = box.locator("text.nbs-cell-text").all_text_contents()
            out = frame["matrices"][3]["data"]
            n_out = len(out) * len(out[0])
            assert texts[-n_out:] == [fmt(v) for row in out for v in row]
            hot = sum(len(m.get("highlight") or []) for m in frame["matrices"])
            assert box.locator("rect.nbs-cell-hot").count() == hot
            if k in (0, 1, n - 1):
                page.screenshot(path=str(shots / f"step{k + 1}.png"))
            if k < n - 1:
                box.locator("button.nbs-next").click()
        assert box.locator("button.nbs-next").is_disabled()
        box.locator("button.nbs-prev").click()
        assert sitecheck.step_label(box) == (n - 1, n)
        box.locator("button.nbs-first").click()
        assert sitecheck.step_label(box) == (1, n)
        assert not report.problems(), report.problems()
        ctx.close()
