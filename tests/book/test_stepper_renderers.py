"""The stepper's ``matrix`` and ``bars`` renderers, in a real browser, without building the book.

No chapter uses these renderers, so the book's browser test (test_book.py) never draws them.
Here a tiny page (``tests/fixtures/steppers/``: ``index.html`` and ``harness.js``, a stand-in
for the anywidget model) runs the real front end on frames made by real ``Stepper`` objects:
this module builds the steppers, writes their synced state to ``models.json`` and their
``_esm`` / ``_css`` (= nblib/widgets/stepper.js / .css) next to the page in a temporary folder,
serves it on 127.0.0.1 and drives Debian's Chromium (see sitecheck.py). Every frame shown is
checked against the frame the widget holds: cell and bar counts, the numbers written, the
highlighted cells and bars, the colours by sign, the bar heights, the step label and caption,
and the buttons' contract (Next / Prev / Play / First / Last, keyboard, what is disabled).

Screenshots of every stepper at its first, second and last step go to
``_build/screenshots/renderers/``. To look at the page by hand::

    .venv/bin/python tests/book/test_stepper_renderers.py   # writes and serves the page
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch

import sitecheck
from paths import BUILD, FIXTURES, ROOT

from nblib.widgets.attention import AttentionStepper, patch_tokens
from nblib.widgets.bptt import BPTTStepper
from nblib.widgets.stepper import Stepper

pytestmark = pytest.mark.browser

PAGE_DIR = FIXTURES / "steppers"
SHOTS = BUILD / "screenshots" / "renderers"
WIDGET_DIR = ROOT / "nblib" / "widgets"
INTERVAL_MS = 100  # Play's step time in the fixture (the default 900 ms would make tests slow)
HOT = "rgb(217, 95, 2)"  # --nbs-hot, the colour of a highlighted bar
RED, BLUE = "rgba(214, 39, 40,", "rgba(31, 119, 180,"  # heat(): positive / negative cells


# ---------------------------------------------------------------- the steppers on the page

def _softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return [v / sum(e) for v in e]


def matrix_frames() -> list[dict]:
    """Two matrices side by side: X, and ReLU(X) filled in one cell per step (None = not yet)."""
    X = [[1.5, -2, 0.25], [-0.5, 3, -1.25]]
    Y = [[None] * 3 for _ in X]
    frames = []
    for k in range(6):
        i, j = divmod(k, 3)
        Y[i][j] = max(0, X[i][j])
        frames.append({
            "matrices": [
                {"name": "X", "data": X, "highlight": [[i, j]],
                 "row_labels": ["x1", "x2"], "col_labels": ["a", "b", "c"]},
                {"name": "ReLU(X)", "data": [row[:] for row in Y], "highlight": [[i, j]]},
            ],
            "label": f"cell ({i}, {j})",
            "caption": f"ReLU(X)[{i}, {j}] = max(0, {X[i][j]}) = {Y[i][j]}",
            "rule": "relu(x) = max(0, x)",
        })
    return frames


def matrix_shorthand_frames() -> list[dict]:
    """The one-matrix shorthand; two highlights walk down the diagonals (they meet at the centre,
    where the same cell is named twice and outlined once)."""
    W = [[2, -1, 0], [0.5, 4, -3], [1, 0, -0.75]]
    return [{"matrix": W, "name": "W", "highlight": [[k, k], [k, 2 - k]],
             "caption": f"row {k}"} for k in range(3)]


def bars_frames() -> list[dict]:
    """Two vectors: logits z (some negative) and p = softmax(z), nudged towards 'dog'."""
    z = [1.0, -0.5, 0.3]
    frames = []
    for k in range(5):
        p = _softmax(z)
        best = max(range(3), key=lambda c: p[c])
        frames.append({
            "vectors": [
                {"name": "logits z", "values": [round(v, 3) for v in z],
                 "labels": ["cat", "dog", "bird"], "highlight": [1]},
                {"name": "p = softmax(z)", "values": [round(v, 3) for v in p],
                 "labels": ["cat", "dog", "bird"], "highlight": [best]},
            ],
            "label": f"update {k}",
            "caption": f"p(dog) = {p[1]:.3f}",
        })
        z = [v + 1.5 * ((c == 1) - p[c]) for c, v in enumerate(z)]
    return frames


def bars_shorthand_frames() -> list[dict]:
    """The one-vector shorthand, no labels (the axis shows indices)."""
    values = [[0.1, 0.7, 0.2, 0.05], [0.25, 0.5, 0.2, 0.05], [0.4, 0.1, 0.1, 0.4]]
    return [{"values": v, "highlight": [k], "name": "q"} for k, v in enumerate(values)]


def graph_frames() -> list[dict]:
    """The control: the renderer the chapters use (c = a * b, forward then backward)."""
    nodes = [{"id": "a", "name": "a", "x": 0, "y": 0, "value": 2.0},
             {"id": "b", "name": "b", "x": 0, "y": 1, "value": -3.0},
             {"id": "c", "name": "c", "op": "*", "x": 1, "y": 0.5, "value": None}]
    edges = [{"id": "e0", "source": "a", "target": "c"}, {"id": "e1", "source": "b", "target": "c"}]
    done = [dict(n, value=-6.0) if n["id"] == "c" else n for n in nodes]
    back = [dict(n, grad={"a": -3.0, "b": 2.0, "c": 1.0}[n["id"]]) for n in done]
    return [
        {"nodes": nodes, "edges": edges, "active_nodes": ["a", "b"], "caption": "inputs"},
        {"nodes": done, "edges": edges, "active_nodes": ["c"], "active_edges": ["e0", "e1"],
         "caption": "forward", "rule": "c = a * b"},
        {"nodes": back, "edges": edges, "active_nodes": ["a", "b"], "caption": "backward",
         "rule": "dc/da = b, dc/db = a", "phase": "backward"},
    ]


def attention_stepper() -> AttentionStepper:
    """Two heads of causal self-attention over 'the cat sat', from fixed q, k, v (3 dims)."""
    g = torch.Generator().manual_seed(11)
    q, k, v = (torch.randn(2, 3, 3, generator=g).mul(1.5).round(decimals=2) for _ in range(3))
    return AttentionStepper(["the", "cat", "sat"], q, k, v, is_causal=True, query=0,
                            title="Attention, one query at a time", interval=INTERVAL_MS)


def ring_image(side: int = 16) -> torch.Tensor:
    """A bright ring on black, like a digit 0: (side, side) in [0, 1]."""
    yy, xx = torch.meshgrid(torch.arange(side * 1.0), torch.arange(side * 1.0), indexing="ij")
    radius = ((yy - (side - 1) / 2) ** 2 + (xx - (side - 1) / 2) ** 2).sqrt()
    return (1 - (radius - side / 3).abs() / 2).clamp(0, 1)


def attention_patch_stepper() -> AttentionStepper:
    """A ViT's self-attention over an image: [CLS] and the 16 patches (4 x 4 pixels) of a
    16 x 16 ring, two heads, two queries ([CLS] and the patch p(1,2)), from fixed q, k, v."""
    g = torch.Generator().manual_seed(12)
    q, k, v = (torch.randn(2, 17, 3, generator=g).mul(1.5).round(decimals=2) for _ in range(3))
    return AttentionStepper(patch_tokens((4, 4)), q, k, v, image=ring_image(), patch_size=4,
                            queries=[0, 7], dims=2, query=0, interval=INTERVAL_MS,
                            title="A ViT's attention on image patches")


def steppers() -> dict[str, Stepper]:
    return {
        "matrix": Stepper(matrix_frames(), renderer="matrix", title="ReLU, cell by cell",
                          interval=INTERVAL_MS),
        "matrix-shorthand": Stepper(matrix_shorthand_frames(), renderer="matrix",
                                    interval=INTERVAL_MS),
        "bars": Stepper(bars_frames(), renderer="bars", title="Softmax while the logits move",
                        interval=INTERVAL_MS),
        "bars-shorthand": Stepper(bars_shorthand_frames(), renderer="bars", interval=INTERVAL_MS),
        "graph": Stepper(graph_frames(), renderer="graph", title="c = a * b", interval=INTERVAL_MS),
        "attention": attention_stepper(),
        "attention-patches": attention_patch_stepper(),
        "chain": BPTTStepper.with_spectral_radii((0.6, 1.5), interval=INTERVAL_MS),
    }


SYNCED = ("frames", "renderer", "title", "step", "interval")


def write_page(dest: Path) -> dict[str, dict]:
    """Write the fixture page into ``dest``; return {id: synced state} as the page has it."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("index.html", "harness.js"):
        shutil.copy(PAGE_DIR / name, dest / name)
    models, esm, css = [], set(), set()
    for key, widget in steppers().items():
        state = widget.get_state()
        esm.add(state["_esm"])
        css.add(state["_css"])
        models.append({"id": key, "state": {k: state[k] for k in SYNCED}})
    assert len(esm) == len(css) == 1
    (dest / "stepper.js").write_text(esm.pop(), encoding="utf-8")
    (dest / "stepper.css").write_text(css.pop(), encoding="utf-8")
    (dest / "models.json").write_text(json.dumps(models, allow_nan=False), encoding="utf-8")
    return {m["id"]: m["state"] for m in models}


# ---------------------------------------------------------------- fixtures

def chromium_or_fail() -> str:
    try:
        return sitecheck.find_chromium()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    dest = tmp_path_factory.mktemp("stepper-page")
    states = write_page(dest)
    return dest, states


@pytest.fixture(scope="module")
def base_url(site):
    with sitecheck.serve(site[0]) as url:
        yield url


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    chromium_or_fail()
    from playwright.sync_api import sync_playwright

    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    with sync_playwright() as p:
        ctx = sitecheck.launch(p, tmp_path_factory.mktemp("chromium-profile"))
        try:
            yield ctx
        finally:
            ctx.close()


class Page:
    """A freshly loaded fixture page and everything it did: requests, errors, console errors."""

    def __init__(self, context, base_url, states):
        self.states = states
        self.report = sitecheck.PageReport(base_url + "index.html")
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page = context.new_page()
        self.page.set_default_timeout(5_000)
        sitecheck.block_external(self.page, self.report.external)
        sitecheck.watch(self.page, self.report)
        self.page.on("request", lambda req: self.requests.append(req.url))
        self.page.on("console", lambda msg: self.console_errors.append(msg.text)
                     if msg.type == "error" else None)
        self.page.goto(self.report.url, wait_until="load")
        self.page.wait_for_function("document.body.dataset.ready || document.body.dataset.error")
        error = self.page.evaluate("document.body.dataset.error || ''")
        assert not error, f"the fixture page failed to render its steppers:\n{error}"

    def section(self, key):
        return self.page.locator(f'section[data-stepper="{key}"]')

    def assert_clean(self):
        self.page.wait_for_timeout(50)  # let late requests and errors show up
        problems = self.report.problems() + [f"console error: {e}" for e in self.console_errors]
        problems += [f"request left 127.0.0.1: {u}" for u in self.requests
                     if not sitecheck._is_local(u)]  # 127.0.0.1, or data:/blob:/about:
        problems = list(dict.fromkeys(problems))  # block_external and the request log both see it
        assert not problems, "\n".join(problems)
        loaded = {urlparse(u).path.rsplit("/", 1)[-1] for u in self.requests}
        assert {"index.html", "harness.js", "stepper.js", "stepper.css", "models.json"} <= loaded, \
            f"the page did not load what it should (request log broken?): {sorted(loaded)}"


@pytest.fixture
def page(context, base_url, site):
    p = Page(context, base_url, site[1])
    yield p
    p.page.close()


# ---------------------------------------------------------------- what a frame should look like

def js_fmt(x) -> str:
    """stepper.js's fmt() for the numbers used here (4 significant digits, no trailing zeros)."""
    if x is None:
        return "?"
    x = float(x)
    if x.is_integer() and abs(x) < 1e6:
        return str(int(x))
    assert 1e-3 <= abs(x) < 1e5, f"keep fixture values where fmt() writes plain decimals: {x}"
    y = float(f"{x:.4g}")
    return str(int(y)) if y.is_integer() else repr(y)


def matrices_of(frame) -> list[dict]:
    if "matrices" in frame:
        return frame["matrices"]
    return [{"name": frame.get("name"), "data": frame["matrix"], "highlight": frame.get("highlight"),
             "row_labels": frame.get("row_labels"), "col_labels": frame.get("col_labels")}]


def vectors_of(frame) -> list[dict]:
    if "vectors" in frame:
        return frame["vectors"]
    return [{"name": frame.get("name"), "values": frame["values"], "labels": frame.get("labels"),
             "highlight": frame.get("highlight")}]


# Everything a check needs from one stepper, in one round trip: the controls, the model and the
# boxes (SVG user units) of the drawing's elements, by kind.
_SNAPSHOT = """(section, [key, kinds]) => {
  const q = (sel) => section.querySelector(sel);
  const model = window.__models[key];
  const out = {
    label: q('.nbs-label').textContent, caption: q('.nbs-caption').textContent,
    rule: q('.nbs-rule').hidden ? null : q('.nbs-rule').textContent,
    title: q('.nbs-title').hidden ? null : q('.nbs-title').textContent,
    slider: q('.nbs-slider').value, play: q('.nbs-play').textContent,
    disabled: Object.fromEntries(['first', 'prev', 'next', 'last'].map(
      (b) => [b, q(`button.nbs-${b}`).disabled])),
    step: model.state.step, saved: model.savedSteps,
  };
  const svg = q('.nbs-stage svg');
  if (!svg) return out;
  const r = svg.getBoundingClientRect(), v = svg.viewBox.baseVal;
  out.svg = {width: r.width, height: r.height, view_w: v.width, view_h: v.height};
  for (const [k, sel] of Object.entries(kinds)) {
    out[k] = [...svg.querySelectorAll(sel)].map((n) => {
      const b = n.getBBox();
      return {x: b.x, y: b.y, w: b.width, h: b.height, text: n.textContent,
              cls: n.getAttribute('class') || '', fill: getComputedStyle(n).fill,
              y1: n.getAttribute('y1') === null ? null : +n.getAttribute('y1')};
    });
  }
  return out;
}"""

KINDS = {
    "chain": {"h": "g.nbs-chain-h", "x": "g.nbs-chain-x", "loss": "g.nbs-chain-loss",
              "edges": "path.nbs-chain-edge", "labels": "text.nbs-edge-label",
              "bars": "rect.nbs-chain-bar", "values": "text.nbs-bar-text",
              "axis": "text.nbs-axis", "names": "text.nbs-mat-name", "zeros": "line.nbs-zero",
              "node_texts": "g.nbs-node text"},
    "attention": {"cells": "rect.nbs-cell", "texts": "text.nbs-cell-text", "axis": "text.nbs-axis",
                  "hot": "rect.nbs-att-hot", "names": "text.nbs-mat-name",
                  "bars": "rect.nbs-att-bar",
                  # the image view (frames with "image"): a ViT's keys as patches
                  "image": "rect.nbs-att-img", "pixels": "rect.nbs-att-px",
                  "patches": "rect.nbs-att-patch", "patch_texts": "text.nbs-att-patch-text",
                  "query_patch": "rect.nbs-att-qpatch", "image_name": "text.nbs-att-img-name",
                  "prefix": "text.nbs-att-prefix"},
    "matrix": {"cells": "rect.nbs-cell", "texts": "text.nbs-cell-text", "hot": "rect.nbs-cell-hot",
               "names": "text.nbs-mat-name", "axis": "text.nbs-axis"},
    "bars": {"bars": "rect.nbs-bar", "values": "text.nbs-bar-text", "axis": "text.nbs-axis",
             "names": "text.nbs-mat-name", "zeros": "line.nbs-zero"},
}


def _center(b):
    return b["x"] + b["w"] / 2, b["y"] + b["h"] / 2


def _inside(point, b, pad=0.0):
    x, y = point
    return b["x"] - pad <= x <= b["x"] + b["w"] + pad and b["y"] - pad <= y <= b["y"] + b["h"] + pad


def _alpha(fill: str) -> float:
    return float(fill.rstrip(")").split(",")[-1])


def check_legible(drawn, kinds, where):
    """No two labels of the drawing overlap, and none sticks out of the SVG."""
    texts = [t for k in kinds for t in drawn[k] if t["text"].strip()]
    for t in texts:
        assert (-1 <= t["x"] and t["x"] + t["w"] <= drawn["svg"]["view_w"] + 1
                and -1 <= t["y"] and t["y"] + t["h"] <= drawn["svg"]["view_h"] + 1), (
            f"{where}: the label {t['text']!r} sticks out of the drawing: {t}, {drawn['svg']}")
    for k, a in enumerate(texts):
        for b in texts[k + 1:]:
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            assert dx <= 0.5 or dy <= 0.5, (
                f"{where}: the labels {a['text']!r} and {b['text']!r} overlap "
                f"({dx:.1f} x {dy:.1f} px): {a} {b}")


def check_matrix(drawn, frame, where):
    mats = matrices_of(frame)
    cells = [(m, i, j) for m, mat in enumerate(mats)
             for i, row in enumerate(mat["data"]) for j, _ in enumerate(row)]
    assert len(drawn["cells"]) == len(cells), (
        f"{where}: {len(drawn['cells'])} cells drawn, the frame has {len(cells)}")
    assert [t["text"] for t in drawn["names"]] == [
        f"{mat['name']} ({len(mat['data'])}×{len(mat['data'][0])})" for mat in mats], where
    box = dict(zip(cells, drawn["cells"]))
    # The grid: each matrix row-major (the drawing order), left to right, side by side.
    for m, i, j in cells:
        b = box[m, i, j]
        assert b["w"] > 20 and b["h"] > 20, f"{where}: cell {m, i, j} is too small: {b}"
        assert b["x"] == box[m, 0, j]["x"] and b["y"] == box[m, i, 0]["y"], f"{where}: not a grid"
        if j:
            assert b["x"] >= box[m, i, j - 1]["x"] + box[m, i, j - 1]["w"] - 0.01, where
        if i:
            assert b["y"] >= box[m, i - 1, j]["y"] + box[m, i - 1, j]["h"] - 0.01, where
    for m in range(1, len(mats)):
        right = max(b["x"] + b["w"] for (mm, _, _), b in box.items() if mm == m - 1)
        left = min(b["x"] for (mm, _, _), b in box.items() if mm == m)
        assert left > right, f"{where}: matrix {m} overlaps matrix {m - 1}"
    # Numbers written in their cells, coloured by sign, stronger for larger |value|.
    for m, mat in enumerate(mats):
        big = max((abs(v) for row in mat["data"] for v in row if v is not None), default=0)
        alphas = []
        for i, row in enumerate(mat["data"]):
            for j, v in enumerate(row):
                b = box[m, i, j]
                texts = [t["text"] for t in drawn["texts"] if _inside(_center(t), b)]
                assert texts == [js_fmt(v)], f"{where}: cell {m, i, j} shows {texts}, frame has {v}"
                if v is None or big == 0:
                    assert b["fill"] in ("transparent", "rgba(0, 0, 0, 0)"), (where, b["fill"])
                else:
                    assert b["fill"].startswith(RED if v >= 0 else BLUE), (where, v, b["fill"])
                    alphas.append((abs(v), _alpha(b["fill"])))
        alphas.sort()
        assert all(a1 <= a2 for (_, a1), (_, a2) in zip(alphas, alphas[1:])), \
            f"{where}: colour strength does not grow with |value|: {alphas}"
    # The highlighted cells: exactly the frame's, each outline sitting on its cell.
    shown = set()
    for h in drawn["hot"]:
        inside = [c for c, b in box.items() if _inside(_center(h), b)]
        assert len(inside) == 1, f"{where}: a highlight outline is on no cell: {h}"
        shown.add(inside[0])
    wanted = {(m, i, j) for m, mat in enumerate(mats) for i, j in (mat.get("highlight") or [])}
    assert len(drawn["hot"]) == len(wanted) and shown == wanted, (
        f"{where}: highlighted cells {sorted(shown)}, the frame highlights {sorted(wanted)}")
    labels = [lab for mat in mats for key in ("row_labels", "col_labels")
              for lab in (mat.get(key) or [])]
    assert sorted(t["text"] for t in drawn["axis"]) == sorted(labels), where
    check_legible(drawn, ("names", "texts", "axis"), where)


def check_bars(drawn, frame, where):
    vecs = vectors_of(frame)
    n_bars = sum(len(v["values"]) for v in vecs)
    assert len(drawn["bars"]) == n_bars, f"{where}: {len(drawn['bars'])} bars, the frame has {n_bars}"
    assert [t["text"] for t in drawn["names"]] == [v["name"] for v in vecs], where
    assert len(drawn["zeros"]) == len(vecs), where
    bars = iter(drawn["bars"])
    for k, vec in enumerate(vecs):
        mine = [next(bars) for _ in vec["values"]]
        zero = drawn["zeros"][k]["y1"]
        big = max(abs(v) for v in vec["values"])
        tallest = max(b["h"] for b in mine)
        hot = set(vec.get("highlight") or [])
        labels = vec.get("labels") or list(range(len(vec["values"])))
        for i, (v, b) in enumerate(zip(vec["values"], mine)):
            bar = f"{where}: {vec['name']}[{i}]"
            assert b["w"] > 10, f"{bar} is too thin: {b}"
            if i:
                assert b["x"] > mine[i - 1]["x"] + mine[i - 1]["w"], f"{bar}: bars overlap"
            assert abs(b["h"] - max(abs(v) / big * tallest, 0.5)) < 0.6, (
                f"{bar}: height {b['h']:.1f} px is not proportional to {v} (max {big} -> {tallest:.1f} px)")
            if v >= 0:
                assert abs(b["y"] + b["h"] - zero) < 0.01, f"{bar}: a positive bar not on the zero line"
            else:
                assert abs(b["y"] - zero) < 0.01 and "nbs-neg" in b["cls"], f"{bar}: negative bar"
            assert ("nbs-hot" in b["cls"]) == (i in hot), f"{bar}: highlight {b['cls']!r}, frame {hot}"
            assert (b["fill"] == HOT) == (i in hot), f"{bar}: fill {b['fill']}, highlight {hot}"
            column = lambda t: b["x"] - 2 <= _center(t)[0] <= b["x"] + b["w"] + 2  # noqa: E731
            assert [t["text"] for t in drawn["values"] if column(t)] == [js_fmt(v)], bar
            assert [t["text"] for t in drawn["axis"] if column(t)] == [str(labels[i])], bar
    check_legible(drawn, ("names", "values", "axis"), where)


def check_attention(drawn, frame, where):
    """Rows of keys; the query and key vectors; the columns computed so far (numbers in their
    cells, blank until computed, bars for the weights); values and their weighted sum last."""
    keys, cols, S = frame["keys"], frame["columns"], len(frame["keys"])
    qv, kv = frame["query"]["vector"], frame["key_vectors"]
    vals = frame.get("values", {}).get("rows", [])
    out = frame.get("output", {}).get("values")
    expected = ([qv] + kv + [c["values"] for c in cols]  # cells in drawing order, grouped
                + vals + ([out] if out else []))
    flat = [v for group in expected for v in group]
    assert len(drawn["cells"]) == len(flat), (
        f"{where}: {len(drawn['cells'])} cells drawn, the frame has {len(flat)}")
    for b, v in zip(drawn["cells"], flat):
        texts = [t["text"] for t in drawn["texts"] if _inside(_center(t), b)]
        want = [] if v is None else [v if isinstance(v, str) else js_fmt(v)]
        assert texts == want, f"{where}: a cell shows {texts}, the frame has {v!r}"
    names = [frame["key_name"]] + [c["name"] for c in cols] + ([frame["values"]["name"]] if vals else [])
    assert [t["text"] for t in drawn["names"]] == names, where
    axis = [f"q: {frame['query']['label']}"] + keys + ([frame["output"]["name"]] if out else [])
    assert [t["text"] for t in drawn["axis"]] == axis, where
    # The weights as bars, proportional to the weight; none before softmax is computed.
    weights = next(c["values"] for c in cols if c.get("bars"))
    shown = [w for w in weights if isinstance(w, (int, float))]
    assert len(drawn["bars"]) == len(shown), f"{where}: {len(drawn['bars'])} bars for {shown}"
    if shown:
        widest = max(b["w"] for b in drawn["bars"])
        for b, w in zip(drawn["bars"], shown):
            assert abs(b["w"] - max(w / max(shown) * widest, 0.5)) < 0.6, (where, w, b)
    # Outlines: the column computed at this step, and the output at the last step.
    n_hot = (frame.get("active_column") is not None) + bool(out)
    assert len(drawn["hot"]) == n_hot, f"{where}: {len(drawn['hot'])} outlines, want {n_hot}"
    if frame.get("active_column") is not None:
        c = frame["active_column"]
        first = drawn["cells"][len(qv) + sum(map(len, kv)) + c * S]
        assert _inside(_center(drawn["hot"][0]), {**first, "h": first["h"] * S}), where
    check_legible(drawn, ("names", "texts", "axis"), where)


# renderPatchView's opacities: PATCH_ALPHA for the largest weight (in proportion below it);
# scores 0.1 + 0.6 |score| / max |score|, lighter than the table's cells so that the image shows
# through. Computed styles keep two decimals of an alpha: compare to within 0.006.
PATCH_ALPHA = 0.7


def check_patch_view(drawn, frame, where):
    """The image beside the table: its pixels (black ones left to the background), one square
    per key on its patch (prefix keys such as [CLS] under the image), shaded by the numbers of
    this step's column (weights: orange, opacity proportional; scores: red/blue by sign, opacity
    growing with the magnitude) and
    labelled with them, and the query's patch outlined."""
    view, keys = frame["image"], frame["keys"]
    H, W, P = view["height"], view["width"], view["patch"]
    (img,) = drawn["image"]
    table_right = max(b["x"] + b["w"] for b in drawn["cells"])
    assert img["x"] > table_right, f"{where}: the image overlaps the table"
    px = img["w"] / W
    assert px >= 2 and abs(img["h"] - H * px) < 0.01, f"{where}: image box {img}"
    grey = bytes.fromhex(view["pixels"])
    lit = [(i, g) for i, g in enumerate(grey) if g]
    assert len(drawn["pixels"]) == len(lit), f"{where}: {len(drawn['pixels'])} pixels drawn"
    for (i, g), b in zip(lit, drawn["pixels"]):
        r, c = divmod(i, W)
        assert abs(b["x"] - img["x"] - c * px) < 0.01 and abs(b["y"] - img["y"] - r * px) < 0.01
        assert b["fill"] == f"rgb({g}, {g}, {g})", (where, i, b["fill"])
    col = frame["columns"][view["shade"]]
    assert [t["text"] for t in drawn["image_name"]] == [f"{col['name']} on the image"], where
    side = P * px
    assert len(drawn["patches"]) == len(keys), f"{where}: {len(drawn['patches'])} patch squares"
    values = col["values"]
    numbers = [v for v in values if isinstance(v, (int, float))]
    big = max(abs(v) for v in numbers)
    prefix = [j for j, rc in enumerate(view["key_patches"]) if rc is None]
    for j, (rc, b) in enumerate(zip(view["key_patches"], drawn["patches"])):
        square = f"{where}: key {keys[j]!r}"
        assert abs(b["w"] - side) < 0.01 and abs(b["h"] - side) < 0.01, f"{square}: {b}"
        if rc is not None:
            assert abs(b["x"] - img["x"] - rc[1] * side) < 0.01, f"{square} is off its column"
            assert abs(b["y"] - img["y"] - rc[0] * side) < 0.01, f"{square} is off its row"
        else:
            assert b["y"] >= img["y"] + img["h"], f"{square}: a prefix key belongs under the image"
        v = values[j]
        if col.get("bars"):
            want = PATCH_ALPHA * abs(v) / big
            assert b["fill"].startswith("rgba(217, 95, 2,") and abs(_alpha(b["fill"]) - want) < 6e-3, (
                f"{square}: fill {b['fill']} for the weight {v} (max {big})")
        else:
            assert b["fill"].startswith(RED if v >= 0 else BLUE), (square, v, b["fill"])
            want = 0.1 + 0.6 * abs(v) / big
            assert abs(_alpha(b["fill"]) - want) < 6e-3, (square, v, b["fill"])
        texts = [t["text"] for t in drawn["patch_texts"] if _inside(_center(t), b)]
        assert texts == ([js_fmt(v) if not isinstance(v, str) else v] if side >= 40 else []), (
            f"{square} is labelled {texts}, the frame has {v!r}")
    assert [t["text"] for t in drawn["prefix"]] == [keys[j] for j in prefix], where
    (outline,) = drawn["query_patch"]
    j = view["query_key"]
    assert view["query_patch"] == view["key_patches"][j], where
    assert _inside(_center(outline), drawn["patches"][j]), (
        f"{where}: the query outline is not on {keys[j]!r}")
    check_legible(drawn, ("patch_texts", "prefix", "image_name"), where)


def selectors(p: Page, key: str) -> dict:
    """{kind: [(label, goto, pressed)]} of the head and query buttons."""
    return p.section(key).locator(".nbs-att-sel").evaluate_all(
        "(divs) => Object.fromEntries(divs.map((d) => [d.dataset.kind, [...d.querySelectorAll("
        "'button')].map((b) => [b.textContent, +b.dataset.goto, b.getAttribute('aria-pressed')])"
        "]))")


CHAIN_BAR_PX = 96  # renderChain's PH: the height of a bar whose value is bars.max


def check_chain(drawn, frame, where):
    """The BPTT chain: a box per state (name and |h| once computed, '?' before), an input box
    above each, the loss at the end, the arrows (the frame's active ones hot, with their
    factor), and one bar per computed |dL/dh_t| under its state, on the frame's fixed scale."""
    cells, bars = frame["cells"], frame["bars"]
    vname = f"{frame['value_name']} " if frame.get("value_name") else ""
    assert len(drawn["h"]) == len(cells), f"{where}: {len(drawn['h'])} states, want {len(cells)}"
    for i, (c, b) in enumerate(zip(cells, drawn["h"])):
        shown = "?" if c["value"] is None else vname + js_fmt(c["value"])
        assert b["text"] == c["name"] + shown, f"{where}: state {i} reads {b['text']!r}"
        assert ("nbs-hot" in b["cls"]) == (i in frame["active"]), f"{where}: state {i} {b['cls']}"
        assert ("nbs-pending" in b["cls"]) == (c["value"] is None), where
        if i:
            prev = drawn["h"][i - 1]
            assert b["x"] > prev["x"] + prev["w"] and b["y"] == prev["y"], f"{where}: not a row"
    inputs = [(i, c) for i, c in enumerate(cells) if c.get("input_name")]
    assert [b["text"] for b in drawn["x"]] == [c["input_name"] + js_fmt(c["input"])
                                               for _, c in inputs], where
    for (i, _), b in zip(inputs, drawn["x"]):
        h = drawn["h"][i]
        assert abs(_center(b)[0] - _center(h)[0]) < 0.01 and b["y"] + b["h"] < h["y"], (
            f"{where}: input {i} is not above its state")
    loss = frame["loss"]
    assert [b["text"] for b in drawn["loss"]] == [
        loss["name"] + ("?" if loss["value"] is None else js_fmt(loss["value"]))], where
    assert drawn["loss"][0]["x"] > drawn["h"][-1]["x"] + drawn["h"][-1]["w"], where
    n_edges = len(inputs) + len(cells) - 1 + 1
    assert len(drawn["edges"]) == n_edges, f"{where}: {len(drawn['edges'])} arrows, want {n_edges}"
    assert sum("nbs-hot" in e["cls"] for e in drawn["edges"]) == len(frame["active_edges"]), where
    assert [t["text"] for t in drawn["labels"]] == list(frame["edge_labels"].values()), where
    # The bars: one per computed value, under its state, on the baseline, to the frame's scale.
    values = bars["values"]
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    assert len(drawn["bars"]) == len(known), f"{where}: {len(drawn['bars'])} bars for {known}"
    zero = drawn["zeros"][0]["y1"]
    hot = set(bars.get("highlight") or [])
    for (i, v), b in zip(known, drawn["bars"]):
        bar = f"{where}: bar {i}"
        assert abs(_center(b)[0] - _center(drawn["h"][i])[0]) < 0.01, f"{bar} is not under h_{i}"
        assert abs(b["y"] + b["h"] - zero) < 0.01, f"{bar} does not stand on the baseline"
        want = max(abs(v) / bars["max"] * CHAIN_BAR_PX, 0.5)
        assert abs(b["h"] - want) < 0.6, f"{bar}: height {b['h']:.1f} px for {v}, want {want:.1f}"
        assert ("nbs-hot" in b["cls"]) == (i in hot), f"{bar}: {b['cls']}, highlight {hot}"
        column = [t["text"] for t in drawn["values"] if b["x"] - 2 <= _center(t)[0] <= b["x"] + b["w"] + 2]
        assert column == [js_fmt(v)], f"{bar} is labelled {column}, the frame has {v}"
    assert [t["text"] for t in drawn["axis"]] == [c["name"] for c in cells], where
    check_legible(drawn, ("names", "values", "axis", "labels", "node_texts"), where)


def snapshot(p: Page, key: str) -> dict:
    kinds = KINDS.get(p.states[key]["renderer"], {})
    return p.section(key).evaluate(_SNAPSHOT, [key, kinds])


def check_frame(p: Page, key: str, i: int) -> dict:
    """The stepper ``key`` shows frame ``i``: drawing, label, caption, rule, buttons, model."""
    state = p.states[key]
    frames, n = state["frames"], len(state["frames"])
    frame = frames[i]
    where = f"{key} step {i + 1}/{n}"
    got = snapshot(p, key)
    assert got["label"] == f"step {i + 1} / {n}", f"{where}: the label reads {got['label']!r}"
    head = f"{frame['label']}. " if frame.get("label") else ""
    assert got["caption"] == f"Step {i + 1} of {n}. {head}{frame.get('caption', '')}", where
    assert got["rule"] == (frame.get("rule") or None), where
    assert got["title"] == (state["title"] or None), where
    assert got["slider"] == str(i), where
    assert got["disabled"] == {"first": i == 0, "prev": i == 0,
                               "next": i == n - 1, "last": i == n - 1}, (
        f"{where}: disabled buttons {got['disabled']}")
    assert got["step"] == i, f"{where}: the model's step is {got['step']}, not {i}"
    assert "svg" in got, f"{where}: no SVG drawn"
    assert got["svg"]["width"] > 50 and got["svg"]["height"] > 50, \
        f"{where}: the SVG is not visible: {got['svg']}"
    {"matrix": check_matrix, "bars": check_bars,
     "attention": check_attention, "chain": check_chain}[state["renderer"]](got, frame, where)
    if frame.get("image"):
        check_patch_view(got, frame, where)
    if state["renderer"] == "attention":
        sel = selectors(p, key)
        for kind, part in (("head", "heads"), ("query", "queries")):
            spec = frame[part]
            assert sel[kind] == [[lab, step, str(i == spec["current"]).lower()]
                                 for i, (lab, step) in enumerate(zip(spec["labels"],
                                                                     spec["steps"]))], where
    return got


# ---------------------------------------------------------------- tests

RENDERED = ["matrix", "matrix-shorthand", "bars", "bars-shorthand", "attention",
            "attention-patches", "chain"]


def test_page_renders_every_stepper_offline(page):
    """All steppers drawn by the very stepper.js in nblib/widgets, nothing fetched from outside."""
    p = page
    assert (p.page.evaluate("document.body.dataset.ready") == str(len(p.states)))
    assert p.page.locator(".nbs-stepper").count() == len(p.states)
    served = p.page.evaluate("fetch('stepper.js').then((r) => r.text())")
    assert served == (WIDGET_DIR / "stepper.js").read_text(encoding="utf-8"), \
        "the page does not run nblib/widgets/stepper.js"
    for key in p.states:
        assert p.section(key).locator(".nbs-stage svg").count() == 1, f"{key}: no SVG"
    p.page.screenshot(path=str(SHOTS / "page.png"), full_page=True)
    p.assert_clean()


@pytest.mark.parametrize("key", RENDERED)
def test_next_prev_play_and_the_last_step(page, key):
    p = page
    section = p.section(key)
    n = len(p.states[key]["frames"])
    assert n >= 3
    shot = lambda tag: section.screenshot(path=str(SHOTS / f"{key}-{tag}.png"))  # noqa: E731

    check_frame(p, key, 0)  # the first step; First and Prev disabled
    shot("step1")
    section.locator("button.nbs-next").click()
    check_frame(p, key, 1)  # Next draws frame 2 (highlights, numbers, heights moved)
    shot("step2")
    assert snapshot(p, key)["saved"] == [1], "Next did not save the step to the model"
    section.locator("button.nbs-prev").click()
    assert check_frame(p, key, 0)["saved"] == [1, 0]

    # Play advances on its own, one step per interval, and stops at the last step.
    play = section.locator("button.nbs-play")
    play.click()
    assert "Pause" in snapshot(p, key)["play"]
    p.page.wait_for_function(
        "([k, n]) => window.__models[k].state.step === n - 1 && document.querySelector("
        "`section[data-stepper='${k}'] .nbs-play`).textContent.includes('Play')",
        arg=[key, n], timeout=INTERVAL_MS * n * 4 + 2_000)
    got = check_frame(p, key, n - 1)  # the last step: Next and Last disabled
    assert got["saved"] == [1, 0] + list(range(1, n)), "Play skipped or repeated steps"
    shot("last")

    # Keyboard and the slider, and clamping at both ends.
    box = section.locator(".nbs-stepper")
    box.press("ArrowRight")
    check_frame(p, key, n - 1)
    box.press("Home")
    check_frame(p, key, 0)
    box.press("ArrowLeft")
    check_frame(p, key, 0)
    box.press("ArrowRight")
    check_frame(p, key, 1)
    section.locator("input.nbs-slider").fill(str(n - 1))
    check_frame(p, key, n - 1)
    section.locator("button.nbs-first").click()
    check_frame(p, key, 0)
    section.locator("button.nbs-last").click()
    check_frame(p, key, n - 1)
    p.assert_clean()


def test_attention_head_and_query_selectors(page):
    """A head button keeps the query and the operation; a query button opens its first step."""
    p, key = page, "attention"
    section, frames = p.section(key), p.states[key]["frames"]
    heads = section.locator('.nbs-att-sel[data-kind="head"] button')
    queries = section.locator('.nbs-att-sel[data-kind="query"] button')
    check_frame(p, key, 0)                         # head 1, query 'the', raw scores
    for _ in range(3):
        section.locator("button.nbs-next").click()
    check_frame(p, key, 3)                         # head 1, query 'the', softmax
    heads.nth(1).click()
    target = frames[3]["heads"]["steps"][1]
    got = check_frame(p, key, target)              # head 2, same query, same operation
    assert frames[target]["label"] == "Head 2, query 'the': softmax"
    section.screenshot(path=str(SHOTS / "attention-head2.png"))
    queries.nth(2).click()
    target = frames[target]["queries"]["steps"][2]
    check_frame(p, key, target)                    # head 2, query 'sat', raw scores
    assert frames[target]["label"] == "Head 2, query 'sat': scores"
    section.locator(".nbs-stepper").press("End")   # the box has the focus again
    last = frames[-1]
    check_frame(p, key, len(frames) - 1)
    assert last["label"] == "Head 2, query 'sat': output" and last["output"]["values"]
    # causal: 'the' (query 0) masks the two later keys, 'sat' masks none
    assert frames[2]["columns"][2]["values"][1:] == ["−∞", "−∞"]
    assert got["saved"][-1] == frames[3]["heads"]["steps"][1]
    section.screenshot(path=str(SHOTS / "attention-last.png"))
    p.assert_clean()


def test_attention_on_image_patches(page):
    """The patch view follows the selectors: [CLS] is outlined under the image, a query button
    moves the outline to its patch, a head button keeps the step and re-shades the patches with
    that head's weights; a text-only attention stepper draws no image at all."""
    p, key = page, "attention-patches"
    section, frames = p.section(key), p.states[key]["frames"]
    shot = lambda tag: section.screenshot(path=str(SHOTS / f"{key}-{tag}.png"))  # noqa: E731
    cls = check_frame(p, key, 0)                    # head 1, [CLS]: its square under the image
    assert frames[0]["query"]["label"] == "[CLS]" and frames[0]["image"]["query_patch"] is None
    assert cls["query_patch"][0]["y"] > cls["image"][0]["y"] + cls["image"][0]["h"]
    section.locator('.nbs-att-sel[data-kind="query"] button').nth(1).click()
    start = frames[0]["queries"]["steps"][1]
    assert frames[start]["query"]["label"] == "p(1,2)"
    got = check_frame(p, key, start)               # head 1, query p(1,2), raw scores
    assert frames[start]["image"]["query_patch"] == [1, 2] and len(got["query_patch"]) == 1
    for _ in range(3):
        section.locator("button.nbs-next").click()
    before = check_frame(p, key, start + 3)         # its softmax weights shade the image
    shot("softmax")
    section.locator('.nbs-att-sel[data-kind="head"] button').nth(1).click()
    target = frames[start + 3]["heads"]["steps"][1]
    after = check_frame(p, key, target)             # head 2: same query, other weights
    assert frames[target]["label"] == "Head 2, query 'p(1,2)': softmax"
    assert [b["fill"] for b in before["patches"]] != [b["fill"] for b in after["patches"]]
    shot("head2")
    section.locator(".nbs-stepper").press("End")
    check_frame(p, key, len(frames) - 1)            # the output step: still the weights
    shot("output")
    assert p.section("attention").locator("rect.nbs-att-img").count() == 0
    p.assert_clean()


def test_graph_control_still_steps(page):
    """The renderer the book uses, through the book test's own exercise_stepper."""
    p = page
    section = p.section("graph")
    frames = p.states["graph"]["frames"]
    assert section.locator("g.nbs-node").count() == len(frames[0]["nodes"])
    assert section.locator("path.nbs-edge").count() == len(frames[0]["edges"])
    hot = lambda: section.locator("g.nbs-node.nbs-hot text.nbs-name").all_text_contents()  # noqa: E731
    assert hot() == frames[0]["active_nodes"]
    section.locator("button.nbs-next").click()
    assert hot() == frames[1]["active_nodes"]
    assert section.locator("path.nbs-edge.nbs-hot").count() == 2
    seen = sitecheck.exercise_stepper(p.page, section.locator(".nbs-stepper"), SHOTS / "graph")
    assert seen["steps"] == len(frames)
    p.assert_clean()


def test_bptt_chain_forward_backward_and_both_spectral_radii(page):
    """The BPTT stepper: forward fills the states left to right, backward fills the bars right
    to left, one step per frame and back again with Prev; the W_hh selector opens the second
    example, where the bars grow to the left (exploding) instead of shrinking (vanishing)."""
    p, key = page, "chain"
    section, frames = p.section(key), p.states[key]["frames"]
    starts = frames[0]["selector"]["steps"]
    assert len(starts) == 2 and frames[0]["selector"]["labels"][0].startswith("ρ = 0.6")
    buttons = section.locator("button.nbs-chain-btn")
    shot = lambda tag: section.screenshot(path=str(SHOTS / f"chain-{tag}.png"))  # noqa: E731

    def pressed():
        return [b.get_attribute("aria-pressed") for b in buttons.all()]

    def states_known(i):
        return sum(c["value"] is not None for c in frames[i]["cells"])

    def bars_known(i):
        return [j for j, v in enumerate(frames[i]["bars"]["values"]) if v is not None]

    for part, (lo, hi) in enumerate(zip(starts, starts[1:] + [len(frames)])):
        if part:
            buttons.nth(part).click()          # the selector jumps to the example's first frame
        check_frame(p, key, lo)
        assert pressed() == [str(k == part).lower() for k in range(len(starts))]
        for i in range(lo + 1, hi):            # every frame of the example, with Next
            section.locator("button.nbs-next").click()
            check_frame(p, key, i)
            phase = frames[i]["phase"]
            if phase == "forward":             # one more state each step, left to right
                assert states_known(i) == states_known(i - 1) + 1 and not bars_known(i)
            if phase == "backward" and frames[i - 1]["phase"] == "backward":
                assert bars_known(i) == [bars_known(i - 1)[0] - 1] + bars_known(i - 1)
        tag = ("vanishing", "exploding")[part]
        shot(f"{tag}-done")
        drawn = snapshot(p, key)["bars"]       # h_0's bar against h_T's, as drawn
        assert len(drawn) == len(frames[hi - 1]["cells"])
        assert (drawn[0]["h"] < drawn[-1]["h"]) == (part == 0), f"{tag}: {drawn}"
        for i in range(hi - 2, hi - 5, -1):    # and back, with Prev: bars disappear again
            section.locator("button.nbs-prev").click()
            check_frame(p, key, i)
        shot(f"{tag}-backward")
        for _ in range(3):
            section.locator("button.nbs-prev").click()
    p.assert_clean()


def test_missing_chromium_fails_and_says_what_to_run(monkeypatch):
    monkeypatch.setattr(sitecheck, "CHROMIUM_CANDIDATES", ("/nonexistent/chromium",))
    monkeypatch.setattr(sitecheck.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="make system-deps"):
        chromium_or_fail()


if __name__ == "__main__":
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else BUILD / "stepper-fixture")
    write_page(out)
    with sitecheck.serve(out) as url:
        print(f"serving {out} at {url}index.html (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
