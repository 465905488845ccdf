"""Every chapter runs end to end: once at full settings, once in smoke mode.

At full settings each chapter asserts its own headline results (a regression fails the run);
that one execution is cached and the book is rendered from it (``test_book.py``). The smoke run
(papermill, ``SMOKE=True``) only checks that the code runs with tiny settings, in seconds.
"""
import json
import time

import nbformat
import papermill as pm
import pytest

from execution import execute
from paths import BUILD, toc_notebooks

CHAPTERS = toc_notebooks()
IDS = [p.stem for p in CHAPTERS]


@pytest.mark.slow
@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_runs_at_full_settings_and_records_its_results(path, full_run):
    run = full_run(path)
    assert run.ok, f"{path.name} failed at full settings:\n{run.error[-4000:]}"
    recorded = json.loads((BUILD / "results" / f"{path.stem}.json").read_text())
    assert recorded["smoke"] is False
    assert recorded["device"], "the results do not say which device the chapter ran on"
    assert recorded["results"]["run_time"]["unit"] == "s"


@pytest.mark.parametrize("path", CHAPTERS, ids=IDS)
def test_chapter_runs_in_smoke_mode(path, tmp_path, monkeypatch, log):
    # Smoke results are meaningless: keep them away from the full run's _build/results.
    monkeypatch.setenv("NBLIB_RESULTS_DIR", str(tmp_path / "results"))
    out = tmp_path / path.name
    start = time.perf_counter()
    pm.execute_notebook(str(path), str(out), parameters={"SMOKE": True}, kernel_name="python3",
                        cwd=str(path.parent), progress_bar=False)
    log(f"[smoke] executed {path.stem}: ok in {time.perf_counter() - start:.1f} s")
    executed = nbformat.read(out, as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)
    recorded = json.loads((tmp_path / "results" / f"{path.stem}.json").read_text())
    assert recorded["smoke"] is True, "the chapter ignored the SMOKE parameter"


def _chapter(tmp_path, body):
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("SMOKE = False", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    path = tmp_path / "99_chapter.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("body", ["raise RuntimeError('boom')",
                                  "accuracy = 0.41\nassert accuracy >= 0.95, accuracy"],
                         ids=["raises", "regressed-result"])
def test_a_failing_chapter_fails_and_is_not_cached_for_the_book(tmp_path, body):
    from jupyter_cache import get_cache

    cache = tmp_path / "cache"
    run = execute(_chapter(tmp_path, body), cache=cache, executed=tmp_path / "executed")
    assert not run.ok
    assert "RuntimeError: boom" in run.error or "AssertionError: 0.41" in run.error
    assert not get_cache(str(cache)).list_cache_records(), "a failed run must not reach the book"


def test_a_chapter_run_is_cached_so_the_book_build_does_not_execute_it_again(tmp_path):
    from jupyter_cache import get_cache

    path = _chapter(tmp_path, "print(6 * 7)")
    cache = get_cache(str(tmp_path / "cache"))
    assert execute(path, cache=tmp_path / "cache", executed=tmp_path / "executed").ok
    # What myst-nb does for `execute_notebooks: cache`: match the source notebook by its code.
    _, merged = cache.merge_match_into_notebook(nbformat.read(path, as_version=4))
    assert merged.cells[1].outputs[0]["text"] == "42\n"
    changed = _chapter(tmp_path, "print(6 * 9)")
    with pytest.raises(KeyError):  # changed code: a cache miss, the build executes it
        cache.match_cache_notebook(nbformat.read(changed, as_version=4))
