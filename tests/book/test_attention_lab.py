"""The attention stepper live in JupyterLab: a real Lab server and kernel, driven by headless
Chromium (offline). A notebook cell builds an AttentionStepper; the test runs it, steps with
Next, switches head and query with the stepper's buttons, then runs a second cell that prints
the step the kernel's widget now holds (the step syncs back from the browser).

Screenshots: ``_build/screenshots/lab/attention-*.png``.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

import sitecheck
from paths import BUILD, ROOT

pytestmark = pytest.mark.browser

SHOTS = BUILD / "screenshots" / "lab"
TOKEN = "nbs-attention-lab"
CELLS = [
    """import torch
from nblib.widgets import AttentionStepper
g = torch.Generator().manual_seed(0)
q, k, v = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
s = AttentionStepper(["the", "cat", "sat"], q, k, v, is_causal=True, query=0,
                     title="lab check")
s""",
    'print("STEP", s.step)',
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, tmp_path / "stepper.ipynb")
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
         f"--ServerApp.root_dir={tmp_path}", "--allow-root",
         "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=5)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("JupyterLab did not start within 180 s")
            time.sleep(1)
    try:
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _label(stepper) -> str:
    return stepper.locator(".nbs-label").text_content()


def test_attention_stepper_steps_and_switches_heads_in_jupyterlab(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    sitecheck.find_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        ctx = sitecheck.launch(p, tmp_path / "chromium-profile")
        blocked: list[str] = []
        sitecheck.block_external(ctx, blocked)
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        page.goto(f"{lab}/lab/tree/stepper.ipynb?token={TOKEN}")
        cells = page.locator(".jp-Notebook .jp-Cell")
        cells.first.wait_for()
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                               state="attached")
        cells.nth(0).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        stepper = page.locator(".nbs-stepper")
        stepper.wait_for()
        n = 2 * 3 * 5  # heads x queries x operations
        assert _label(stepper) == f"step 1 / {n}"
        assert "Head 1, query 'the': scores" in stepper.locator(".nbs-caption").text_content()
        stepper.locator("button.nbs-next").click()
        assert _label(stepper) == f"step 2 / {n}"
        page.screenshot(path=str(SHOTS / "attention-step2.png"), full_page=True)

        # head 2: the same query and operation (frame 15 + 1); then query 'sat' of head 2
        stepper.locator('.nbs-att-sel[data-kind="head"] button').nth(1).click()
        assert _label(stepper) == f"step 17 / {n}"
        assert "Head 2, query 'the': scaled" in stepper.locator(".nbs-caption").text_content()
        stepper.locator('.nbs-att-sel[data-kind="query"] button').nth(2).click()
        assert _label(stepper) == f"step 26 / {n}"
        assert stepper.locator(".nbs-stage svg").count() == 1
        page.screenshot(path=str(SHOTS / "attention-head2.png"), full_page=True)

        # the kernel's widget holds the step chosen in the browser
        cells.nth(1).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        out = cells.nth(1).locator(".jp-OutputArea-output")
        out.wait_for()
        page.wait_for_function(
            "(el) => el.textContent.includes('STEP')", arg=out.element_handle())
        assert out.text_content().strip() == "STEP 25"
        ctx.close()
