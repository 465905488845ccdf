"""Every stepper that ``nblib.widgets`` exports, live in JupyterLab, driven by headless Chromium.

A real ``jupyter lab`` server (this venv's, on 127.0.0.1, a free port, a fixed token, settings
and workspaces in a temporary folder, no news / update checks / PyPI extension manager) serves
a notebook that builds one small stepper of each kind, one per cell. Chromium (the system
binary, offline: see ``sitecheck.py``) opens it, runs all cells through JupyterLab's own
``notebook:run-all-cells`` command, and then, for each kind: waits for the widget's DOM
(``.nbs-stepper``, drawn by nblib/widgets/stepper.js through anywidget's Lab extension),
clicks Next, checks that the step label and the caption move on, and screenshots the widget
to ``_build/screenshots/lab/<kind>.png``; the attention stepper's head and query buttons are
clicked too, and its drawing checked to follow them. Any request that would leave 127.0.0.1 is
blocked and fails the test, as does any uncaught error in the page (checked after all kinds).

The kinds are the ``Stepper`` classes that ``nblib.widgets`` exports when the tests are
collected (the generic ``Stepper`` once per basic renderer): a new exported stepper without a
builder in ``BUILDERS`` below fails with a message saying what to add.

Run: ``.venv/bin/pytest -q tests/book/test_lab.py -s``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple

import nbformat
import pytest

import sitecheck
import nblib.widgets as widgets
from nblib.widgets import RENDERERS, Stepper
from nblib.widgets.attention import OPERATIONS
from paths import BUILD, ROOT

pytestmark = pytest.mark.slow

SHOTS = BUILD / "screenshots" / "lab"
TOKEN = "nbs-lab-test-token"
NOTEBOOK = "steppers.ipynb"
START_S = 120        # the server answering, and the kernel starting (a loaded machine is slow)
RUN_S = 180          # every cell executed (the kernel imports torch)
WIDGET_MS = 60_000   # one widget drawn after its cell ran
UI_MS = 30_000       # one click, one label change

# ---------------------------------------------------------------- one builder per stepper kind

class Builder(NamedTuple):
    cls: str        # the exported class it checks
    renderer: str   # the renderer it draws
    drawn: str      # CSS selector of what that renderer draws in the stage (.nbs-stage)
    code: str       # the cell; its last expression is the widget, titled with the kind


# The renderers' marks (nblib/widgets/stepper.js): a wrong or unknown renderer draws none.
MARKS = {"graph": "g.nbs-node", "matrix": "rect.nbs-cell", "bars": "rect.nbs-bar",
         "chain": "g.nbs-chain-h", "attention": ".nbs-att rect.nbs-cell"}

BUILDERS: dict[str, Builder] = {
    "Stepper-graph": Builder("Stepper", "graph", MARKS["graph"], """\
from nblib.widgets import Stepper
nodes = [{"id": "a", "name": "a", "x": 0, "y": 0, "value": 2.0},
         {"id": "b", "name": "b", "x": 0, "y": 1, "value": -3.0},
         {"id": "c", "name": "c", "op": "*", "x": 1, "y": 0.5, "value": None}]
edges = [{"id": "e0", "source": "a", "target": "c"}, {"id": "e1", "source": "b", "target": "c"}]
done = [dict(n, value=-6.0) if n["id"] == "c" else n for n in nodes]
Stepper([{"nodes": nodes, "edges": edges, "active_nodes": ["a", "b"], "caption": "inputs"},
         {"nodes": done, "edges": edges, "active_nodes": ["c"], "caption": "forward",
          "rule": "c = a * b"}], renderer="graph", title="Stepper-graph")"""),
    "Stepper-matrix": Builder("Stepper", "matrix", MARKS["matrix"], """\
from nblib.widgets import Stepper
W = [[1.5, -2.0], [0.25, 3.0]]
Stepper([{"matrix": W, "highlight": [[0, 0]], "name": "W", "caption": "top left"},
         {"matrix": W, "highlight": [[0, 1]], "name": "W", "caption": "top right"}],
        renderer="matrix", title="Stepper-matrix")"""),
    "Stepper-bars": Builder("Stepper", "bars", MARKS["bars"], """\
from nblib.widgets import Stepper
Stepper([{"values": [0.1, 0.7, -0.2], "labels": ["a", "b", "c"], "highlight": [0],
          "caption": "bar a"},
         {"values": [0.1, 0.7, -0.2], "labels": ["a", "b", "c"], "highlight": [1],
          "caption": "bar b"}], renderer="bars", title="Stepper-bars")"""),
    "BackpropStepper": Builder("BackpropStepper", "graph", MARKS["graph"], """\
from nblib.autograd import Value
from nblib.widgets import BackpropStepper
a, b = Value(2.0, label="a"), Value(-3.0, label="b")
L = (a * b).tanh(); L.label = "L"
BackpropStepper(L, title="BackpropStepper")"""),
    "ConvStepper": Builder("ConvStepper", "matrix", MARKS["matrix"], """\
import torch
from nblib.widgets import ConvStepper
ConvStepper(torch.arange(9.0).reshape(3, 3), [[1.0, 0.0], [0.0, -1.0]], title="ConvStepper")"""),
    "BPTTStepper": Builder("BPTTStepper", "chain", MARKS["chain"], """\
from nblib.widgets import BPTTStepper
BPTTStepper.with_spectral_radii((0.6, 1.5), steps=3, hidden=4, title="BPTTStepper")"""),
    "AttentionStepper": Builder("AttentionStepper", "attention", MARKS["attention"], """\
import torch
from nblib.widgets import AttentionStepper
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
AttentionStepper(["the", "cat", "sat"], q, k, v, is_causal=True, query=0,
                 title="AttentionStepper")"""),
}


def exported_steppers() -> list[str]:
    """Names of the Stepper classes (Stepper included) that nblib.widgets exports."""
    names = getattr(widgets, "__all__", None) or [n for n in dir(widgets) if not n.startswith("_")]
    objs = {n: getattr(widgets, n, None) for n in names}
    return [n for n, obj in objs.items() if isinstance(obj, type) and issubclass(obj, Stepper)]


def kinds() -> list[str]:
    """One kind per builder of an exported class; a bare class name where there is no builder."""
    out = []
    for cls in exported_steppers():
        mine = [kind for kind, b in BUILDERS.items() if b.cls == cls]
        out += mine or [cls]
    return out


KINDS = kinds()
BUILT = [k for k in KINDS if k in BUILDERS]   # the notebook's cells, in this order


# ---------------------------------------------------------------- the server

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, server log) of a JupyterLab serving the steppers notebook; stopped after."""
    home = tmp_path_factory.mktemp("lab")
    work = home / "work"
    work.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(BUILDERS[k].code) for k in BUILT])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, work / NOTEBOOK)

    settings = home / "user-settings"
    # no news, no update check, no toasts; every cell attached to the DOM (no windowing)
    lab_settings = settings / "@jupyterlab"
    _write_json(lab_settings / "apputils-extension" / "notification.jupyterlab-settings",
                {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True})
    _write_json(lab_settings / "notebook-extension" / "tracker.jupyterlab-settings",
                {"windowingMode": "none"})
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(settings),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_PREFER_ENV_PATH="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    exe = Path(sys.executable).with_name("jupyter-lab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyterlab"]
    port = _free_port()
    cmd += ["--no-browser", "--ServerApp.open_browser=False", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={work}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly", "--LabApp.collaborative=False",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={home / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")   # containers and CI often run as root
    log = home / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def stop() -> None:
        if proc.poll() is None:
            try:   # the graceful way: the server shuts its kernels down too
                req = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {TOKEN}"})
                urllib.request.urlopen(req, timeout=10)
                proc.wait(timeout=30)
            except Exception:
                pass
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)    # the server's whole process group
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue

    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start within {START_S} s "
                                f"(exit code {proc.poll()}); server log:\n{_tail(log)}",
                                pytrace=False)
                time.sleep(0.5)
        print(f"\n[lab] server answering in {START_S - (deadline - time.monotonic()):.1f} s")
        yield base, log
    finally:
        stop()


# ---------------------------------------------------------------- the browser, cells run

WAIT_NOTEBOOK_JS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!(w && w.content && w.content.widgets && w.content.widgets.length === %d
            && k && k.status === 'idle');
}"""
CELLS_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => ({
  count: c.model.executionCount,
  errors: c.model.outputs.toJSON().filter(o => o.output_type === 'error')
           .map(o => o.ename + ': ' + o.evalue)}))"""
DONE_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session.kernel;
  return k.status === 'idle' && w.content.widgets.every(c => c.model.executionCount !== null);
}"""


class Browser:
    """The page, and what went wrong on it (for failure messages)."""

    def __init__(self, page, log: Path):
        self.page, self.log = page, log
        self.external: list[str] = []
        self.errors: list[str] = []      # uncaught exceptions in the page
        self.console: list[str] = []     # console errors and warnings
        self.cells: list[dict] = []      # per cell: execution count, error outputs

    def diagnostics(self) -> str:
        lines = [f"blocked external request: {u}" for u in self.external]
        lines += [f"page error: {e}" for e in self.errors]
        lines += [f"console: {c}" for c in self.console[-30:]]
        return "\n".join(lines + ["server log (tail):", _tail(self.log, 25)])


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    """A Chromium page showing the notebook with every cell run."""
    try:
        sitecheck.find_chromium()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    from playwright.sync_api import sync_playwright

    base, log = lab
    SHOTS.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        (SHOTS / f"{kind}.png").unlink(missing_ok=True)
    with sync_playwright() as p:
        ctx = sitecheck.launch(p, tmp_path_factory.mktemp("chromium") / "profile")
        try:
            b = Browser(None, log)
            sitecheck.block_external(ctx, b.external)
            page = b.page = ctx.new_page()
            page.set_default_timeout(UI_MS)
            page.on("pageerror", lambda err: b.errors.append(str(err)))
            page.on("console", lambda msg: b.console.append(f"[{msg.type}] {msg.text}")
                    if msg.type == "error" or (msg.type == "warning" and "activate" not in msg.text)
                    else None)   # not Lab's "plugin ... took 5000 ms to activate" on a busy CPU
            t0 = time.monotonic()
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?reset&token={TOKEN}",
                      wait_until="domcontentloaded", timeout=START_S * 1000)
            try:   # the notebook open, its kernel started and idle
                page.wait_for_function(WAIT_NOTEBOOK_JS % len(BUILT), timeout=START_S * 1000,
                                       polling=500)
            except Exception as err:
                pytest.fail(f"the notebook or its kernel was not ready within {START_S} s "
                            f"({type(err).__name__}); window.jupyterapp exposed: "
                            f"{page.evaluate('() => !!window.jupyterapp')}\n{b.diagnostics()}",
                            pytrace=False)
            ready = time.monotonic()
            page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
            try:
                page.wait_for_function(DONE_JS, timeout=RUN_S * 1000, polling=500)
            except Exception as err:
                pytest.fail(f"the cells did not all run within {RUN_S} s "
                            f"({type(err).__name__}): {page.evaluate(CELLS_JS)}\n"
                            f"{b.diagnostics()}", pytrace=False)
            print(f"\n[lab] notebook and kernel ready in {ready - t0:.1f} s, "
                  f"{len(BUILT)} cells run in {time.monotonic() - ready:.1f} s")
            b.cells = page.evaluate(CELLS_JS)
            yield b
            print(f"\n[lab] {len(b.console)} console errors/warnings"
                  + "".join(f"\n    {line[:200]}" for line in b.console[:10]))
        finally:
            ctx.close()


# ---------------------------------------------------------------- the tests

def test_anywidget_lab_extension_is_installed():
    """anywidget's prebuilt JupyterLab extension, which draws every stepper in Lab, is there."""
    exe = Path(sys.executable).with_name("jupyter")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "jupyter"]
    out = subprocess.run(cmd + ["labextension", "list"], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, NO_COLOR="1"))
    text = out.stdout + out.stderr
    lines = [line for line in text.splitlines() if line.strip().startswith("anywidget ")]
    assert lines, f"anywidget's JupyterLab extension is not installed:\n{text}"
    assert "enabled" in lines[0] and "OK" in lines[0], f"anywidget extension: {lines[0]!r}"


def test_every_renderer_has_a_kind():
    """The builders cover every renderer of the front end, so none goes untested in Lab."""
    drawn = {BUILDERS[k].renderer for k in BUILT}
    assert set(RENDERERS) <= drawn, f"no stepper in the Lab notebook draws {set(RENDERERS) - drawn}"


@pytest.mark.browser
@pytest.mark.parametrize("kind", KINDS)
def test_stepper_works_live_in_jupyterlab(request, kind):
    if kind not in BUILDERS:   # fails before any server starts
        pytest.fail(f"nblib.widgets exports the stepper class {kind}, but tests/book/test_lab.py "
                    f"has no builder for it: add an entry to BUILDERS (kind -> Builder({kind!r}, "
                    f"renderer, MARKS[renderer], code of a cell whose last expression is a "
                    f"small {kind} with title=<kind>)).", pytrace=False)
    browser = request.getfixturevalue("browser")
    page, index = browser.page, BUILT.index(kind)
    errors = browser.cells[index]["errors"]
    assert not errors, f"the {kind} cell raised: {errors}"
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    stepper = cell.locator(".jp-OutputArea .nbs-stepper")
    try:
        stepper.locator(".nbs-label").wait_for(timeout=WIDGET_MS)
    except Exception:
        shown = cell.locator(".jp-OutputArea").inner_text(timeout=5_000)
        pytest.fail(f"the {kind} widget was not drawn within {WIDGET_MS / 1000:.0f} s; the "
                    f"cell's output reads {shown[:300]!r}\n{browser.diagnostics()}",
                    pytrace=False)
    stepper.scroll_into_view_if_needed()
    assert stepper.locator(".nbs-title").inner_text() == kind
    stage = stepper.locator(".nbs-stage")
    assert stage.locator("svg").count() >= 1, f"{kind}: the stage drew no SVG"
    assert "cannot draw frame" not in stage.inner_text()
    mark = BUILDERS[kind].drawn
    assert stage.locator(mark).count() >= 1, \
        f"{kind}: the stage has no {mark!r}: not drawn by the {BUILDERS[kind].renderer!r} renderer"
    i, n = sitecheck.step_label(stepper)
    assert n >= 2 and i < n, f"{kind}: step {i} / {n} leaves no Next step to take"
    caption = stepper.locator(".nbs-caption").inner_text()
    assert caption.startswith(f"Step {i} of {n}."), caption

    stepper.locator("button.nbs-next").click()
    page.wait_for_function(
        "([el, want]) => el.textContent === want",
        arg=[stepper.locator(".nbs-label").element_handle(), f"step {i + 1} / {n}"],
        timeout=UI_MS)
    after = stepper.locator(".nbs-caption").inner_text()
    assert after.startswith(f"Step {i + 1} of {n}."), after
    assert after != caption
    assert stepper.locator("button.nbs-prev").is_enabled()
    stepper.screenshot(path=str(SHOTS / f"{kind}.png"))


@pytest.mark.browser
def test_attention_head_and_query_buttons_work_live_in_jupyterlab(browser):
    """The attention stepper's selectors, clicked in Lab: a head button keeps the query and the
    operation and shows that head's numbers; a query button opens that query's first step."""
    kind = "AttentionStepper"
    if kind not in BUILT:
        pytest.skip(f"nblib.widgets exports no {kind}")
    page = browser.page
    stepper = page.locator(".jp-Notebook .jp-Cell").nth(BUILT.index(kind)).locator(
        ".jp-OutputArea .nbs-stepper")
    stepper.locator(".nbs-label").wait_for(timeout=WIDGET_MS)
    stepper.scroll_into_view_if_needed()
    label = stepper.locator(".nbs-label")
    # The builder's stepper: 2 heads, the 3 queries of "the cat sat", 5 operations each.
    n_ops, queries = len(OPERATIONS), ["the", "cat", "sat"]

    def step_of(head: int, query: int, op: int) -> int:   # 1-based, as the label reads
        return (head * len(queries) + query) * n_ops + op + 1

    def shows(head: int, query: int, op: int) -> str:
        """Wait for that frame; return the drawing's text (its numbers and labels)."""
        _, n = sitecheck.step_label(stepper)
        step = f"step {step_of(head, query, op)} / {n}"
        page.wait_for_function("([el, want]) => el.textContent === want",
                               arg=[label.element_handle(), step], timeout=UI_MS)
        want = f"Head {head + 1}, query '{queries[query]}': {OPERATIONS[op]}."
        caption = stepper.locator(".nbs-caption").inner_text()
        assert want in caption, f"{want!r} not in the caption {caption!r}"
        pressed = stepper.locator('.nbs-att-sel button[aria-pressed="true"]').all_inner_texts()
        assert pressed == [f"head {head + 1}", queries[query]], pressed
        assert stepper.locator(".nbs-att-qlabel").text_content() == f"q: {queries[query]}"
        return stepper.locator(".nbs-stage svg").first.text_content()

    heads = stepper.locator('.nbs-att-sel[data-kind="head"] button')
    picks = stepper.locator('.nbs-att-sel[data-kind="query"] button')
    assert heads.all_inner_texts() == ["head 1", "head 2"]
    assert picks.all_inner_texts() == queries
    first = stepper.locator("button.nbs-first")
    if first.is_enabled():             # the test above left it one step on
        first.click()
    shows(0, 0, 0)                                             # head 1, 'the', scores
    for op in range(1, 4):
        stepper.locator("button.nbs-next").click()
        head1 = shows(0, 0, op)                                # ... up to its softmax
    heads.nth(1).click()
    head2 = shows(1, 0, 3)                                     # head 2: same query, same step
    assert head2 != head1, "head 2 drew head 1's numbers"
    picks.nth(2).click()
    shows(1, 2, 0)                                             # head 2, 'sat', scores
    stepper.screenshot(path=str(SHOTS / f"{kind}-head2-sat.png"))


@pytest.mark.browser
def test_the_running_lab_loads_anywidget(browser):
    """The server under test lists anywidget among the federated extensions the page loads."""
    names = browser.page.evaluate("""() => JSON.parse(
        document.getElementById('jupyter-config-data').textContent)
        .federated_extensions.map(e => e.name)""")
    assert "anywidget" in names, f"JupyterLab's page loads no anywidget extension: {names}"


@pytest.mark.browser
def test_jupyterlab_stayed_offline_without_page_errors(browser):
    """After every stepper was drawn and stepped: nothing left 127.0.0.1, nothing threw."""
    assert not browser.external, f"requests left 127.0.0.1: {browser.external}"
    assert not browser.errors, f"uncaught errors in JupyterLab:\n{browser.diagnostics()}"
