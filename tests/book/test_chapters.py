"""Every chapter runs end to end in smoke mode (papermill), and a chapter that fails fails the suite.

The full-settings run of every chapter is done by nbval (`pytest --nbval-lax chapters`, part of
`make test`): the chapters assert their headline results themselves.
"""
import subprocess
import sys

import nbformat
import papermill as pm
import pytest

from paths import ROOT, toc_notebooks

CHAPTERS = toc_notebooks()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_in_smoke_mode(path, tmp_path, monkeypatch):
    # Smoke results are meaningless: keep them away from the full run's _build/results.
    monkeypatch.setenv("NBLIB_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / path.name
    pm.execute_notebook(str(path), str(out), parameters={"SMOKE": True}, kernel_name="python3",
                        cwd=str(path.parent), progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    assert (tmp_path / "results" / f"{path.stem}.json").exists(), "the chapter did not record its results"


def _broken_chapter(tmp_path, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("SMOKE = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    path = tmp_path / "99_broken.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("body", ["raise RuntimeError('boom')", "accuracy = 0.41\nassert accuracy >= 0.95, accuracy"],
                         ids=["raises", "regressed-result"])
def test_a_failing_chapter_fails_the_nbval_run(tmp_path, body):
    path = _broken_chapter(tmp_path, body)
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", str(path), "-q", "-p", "no:cacheprovider"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1, run.stdout[-2000:]
    assert "1 failed" in run.stdout
