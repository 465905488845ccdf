"""The rendered book: it builds warning-free, and it works offline as a real website.

Slow: builds the whole book once per session (``jupyter-book build . -W -n --keep-going`` into
``_build/html``, as ``make book`` does) from the chapters' full-settings runs (``full_run``: each
chapter is executed once per session and cached; the build executes nothing itself), then opens
every page in headless Chromium served from 127.0.0.1 with the network cut.
Screenshots of every stepper (before and after Next) go to ``_build/screenshots/``.
"""
import json
from html import escape
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import sitecheck
from paths import ROOT, toc_notebooks

BOOK = ROOT
SITE = BOOK / "_build" / "html"
SHOTS = BOOK / "_build" / "screenshots"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def built_book(full_run):
    """Build the book once, from the chapters' runs; clean _build/html first so changed static
    files are copied again."""
    failed = [p.stem for p in toc_notebooks() if not full_run(p).ok]
    assert not failed, f"chapters failed at full settings (see test_chapters): {failed}"
    jb = Path(sys.executable).parent / "jupyter-book"
    shutil.rmtree(SITE, ignore_errors=True)
    # Read every page again, so that every chapter is rendered from this session's run.
    shutil.rmtree(BOOK / "_build" / ".doctrees", ignore_errors=True)
    log = BOOK / "_build" / "book-build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    proc = subprocess.run([str(jb), "build", ".", "-W", "-n", "--keep-going"], cwd=BOOK,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=3600)
    log.write_text(proc.stdout)
    tail = "\n".join(proc.stdout.splitlines()[-60:])
    assert proc.returncode == 0, f"the book build failed (full log: {log}):\n{tail}"
    assert (SITE / "index.html").is_file(), f"no {SITE / 'index.html'} after the build:\n{tail}"
    print(f"book built in {time.time() - start:.0f} s")
    return SITE


def _build_log() -> str:
    return (BOOK / "_build" / "book-build.log").read_text()


@pytest.fixture(scope="session")
def site_check(built_book, tmp_path_factory):
    """Open every page once in Chromium; every browser test reads this one report."""
    try:
        sitecheck.find_chromium()
    except RuntimeError as err:
        pytest.fail(str(err))
    shutil.rmtree(SHOTS, ignore_errors=True)
    start = time.time()
    report = sitecheck.check_site(built_book, tmp_path_factory.mktemp("chromium-profile"), SHOTS)
    report["seconds"] = time.time() - start
    print(f"checked {report['pages']} pages in {report['seconds']:.0f} s")
    return report


def test_the_book_is_rendered_from_the_chapters_runs_without_executing_them_again(built_book):
    log = _build_log()
    chapters = toc_notebooks()
    assert log.count("Using cached notebook") == len(chapters), \
        "not every chapter was rendered from its full-settings run"
    assert "Executing notebook" not in log, "the book build executed a chapter a second time"


def test_the_results_page_shows_every_chapter_beside_the_published_figures(built_book):
    html = (built_book / "appendix" / "results.html").read_text()
    for path in toc_notebooks():
        assert f"<p>{path.stem}</p>" in html, f"{path.stem} is missing from the run-time table"
    assert "<svg" in html, "the results figure is missing"
    published = [(r["published"], r["source"]) for p in toc_notebooks()
                 for r in json.loads((ROOT / "_build" / "results" / f"{p.stem}.json").read_text())["results"].values()
                 if "published" in r]
    assert published, "no chapter compares a result with a published figure"
    for _, source in published:
        assert escape(source, quote=False) in html, f"citation {source!r} is not on the Results page"


def test_book_builds_without_warnings(built_book):
    assert (built_book / "index.html").is_file()
    assert (built_book / "_static" / "offline" / "require.js").is_file()
    assert (built_book / "_static" / "offline" / "mathjax" / "tex-mml-chtml.js").is_file()


def _chapter_pages():
    toc = yaml.safe_load((BOOK / "_toc.yml").read_text())
    files = [toc["root"]]
    stack = list(toc.get("parts", [])) + list(toc.get("chapters", []))
    while stack:
        entry = stack.pop(0)
        if "file" in entry:
            files.append(entry["file"])
        stack[:0] = entry.get("chapters", []) + entry.get("sections", [])
    return [f for f in files if (BOOK / f"{f}.ipynb").is_file()]


def test_every_notebook_page_has_colab_download_and_repository_buttons(built_book):
    config = yaml.safe_load((BOOK / "_config.yml").read_text())
    repo = config["repository"]["url"].rstrip("/")
    slug = repo.removeprefix("https://github.com/")
    branch = config["repository"].get("branch", "main")
    pages = _chapter_pages()
    assert pages, "no notebook page in _toc.yml"
    for page in pages:
        html = (built_book / f"{page}.html").read_text()
        colab = f"https://colab.research.google.com/github/{slug}/blob/{branch}/{page}.ipynb"
        assert colab in html, f"{page}: no Colab launch button ({colab})"
        assert f"_sources/{page}.ipynb" in html and "btn-download-source-button" in html, \
            f"{page}: no download button for the notebook"
        assert f'href="{repo}"' in html, f"{page}: no repository button"


def test_solution_cells_are_folded_behind_a_toggle(built_book):
    pages = [p for p in sitecheck.site_pages(built_book) if "tag_solution" in p.read_text()]
    assert pages, "no chapter page has a cell tagged `solution`"
    for page in pages:
        html = page.read_text()
        cells = re.findall(r'<div class="cell tag_solution[^"]*">\s*<details class="[^"]*hide[^"]*">'
                           r'\s*<summary[^>]*>\s*<p class="collapsed admonition-title">Show solution</p>',
                           html)
        assert len(cells) == html.count('class="cell tag_solution'), \
            f"{page.name}: a cell tagged solution is not folded behind 'Show solution'"


@pytest.mark.browser
def test_every_page_works_offline(site_check):
    """No request leaves 127.0.0.1, no page error (but sphinx-thebe's known one), no 404,
    math typeset, every stepper rendered and steppable, solutions fold and unfold."""
    assert site_check["pages"] > 0
    problems = "\n".join(f"{page}:\n  " + "\n  ".join(items)
                         for page, items in site_check["problems"].items())
    assert not site_check["problems"], f"problems on {len(site_check['problems'])} pages:\n{problems}"


@pytest.mark.browser
def test_math_is_typeset(site_check):
    assert site_check["math_pages"], "no page with math: is MathJax wired up at all?"


@pytest.mark.browser
def test_at_least_one_stepper_page_with_screenshots(site_check):
    assert site_check["stepper_pages"], (
        "no page shows an nblib stepper (chapter 02 should show a BackpropStepper)")
    for key, seen in site_check["steppers"].items():
        assert seen["steps"] >= 1, key
    shots = sorted(SHOTS.glob("*.png"))
    assert len(shots) >= len(site_check["steppers"]), "missing stepper screenshots"

