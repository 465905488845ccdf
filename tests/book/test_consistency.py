"""The repository keeps its promises: every chapter is in the book, committed clean, runnable
on Colab, parameterised for papermill, and the setup commands are the ones the README shows."""
import json
import re
import tomllib

import nbformat
import pytest

import nblib
from paths import ROOT, config, toc_files, toc_notebooks

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_every_chapter_notebook_is_in_the_toc():
    listed = {f for f in toc_files()}
    missing = [p.name for p in NOTEBOOKS if f"chapters/{p.stem}" not in listed]
    assert not missing, f"notebooks not listed in _toc.yml: {missing}"


def test_the_toc_names_only_existing_files():
    absent = [f for f in toc_files() if not any((ROOT / f"{f}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not absent, f"_toc.yml names files that do not exist: {absent}"


def test_chapter_files_are_named_NN_slug():
    bad = [p.name for p in NOTEBOOKS if not re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name)]
    assert not bad


def test_toc_is_in_chapter_number_order():
    numbers = [p.stem[:2] for p in toc_notebooks()]
    assert numbers == sorted(numbers)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(code_cells(nb)) if c.outputs or c.execution_count is not None]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts; clear them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_is_valid_and_uses_the_python3_kernel(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_has_a_parameters_cell_with_seed_and_smoke(path):
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: expected exactly one cell tagged 'parameters', found {len(cells)}"
    assert re.search(r"^SEED\s*=", cells[0].source, re.M) and re.search(r"^SMOKE\s*=\s*False", cells[0].source, re.M)


def test_repository_url_is_defined_once_and_matches_the_package():
    assert config()["repository"]["url"] == nblib.REPOSITORY_URL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_first_code_cell_installs_nblib_on_colab_and_is_folded_in_the_book(path):
    first = code_cells(nbformat.read(path, as_version=4))[0]
    assert "import nblib" in first.source and "except ImportError" in first.source
    assert f'%pip install -q "nblib @ git+{nblib.REPOSITORY_URL}"' in first.source, (
        f"{path.name}: the setup cell must install nblib from {nblib.REPOSITORY_URL} (see CONTRIBUTING.md)")
    assert "hide-cell" in first.metadata.get("tags", []), f"{path.name}: tag the install cell hide-cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_opens_with_one_setup_call_after_its_parameters(path):
    cells = code_cells(nbformat.read(path, as_version=4))
    assert "parameters" in cells[1].metadata.get("tags", []), f"{path.name}: 2nd code cell: parameters"
    setup = cells[2]
    assert f'nblib.start("{path.stem}", seed=SEED, smoke=SMOKE)' in setup.source, (
        f"{path.name}: the 3rd code cell must call nblib.start(\"{path.stem}\", seed=SEED, smoke=SMOKE)")
    assert "hide-input" in setup.metadata.get("tags", []), f"{path.name}: tag the setup cell hide-input"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_records_its_run_time_in_its_last_cell(path):
    assert "run.finish()" in code_cells(nbformat.read(path, as_version=4))[-1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_code_fits_the_books_column(path):
    long = [line for c in code_cells(nbformat.read(path, as_version=4))
            for line in c.source.splitlines() if len(line) > 80]
    assert not long, f"{path.name}: {len(long)} code lines over 80 characters, e.g. {long[0]!r}"


EXERCISE_CHAPTERS = [p for p in NOTEBOOKS if p.stem[:2] != "00"]


@pytest.mark.parametrize("path", EXERCISE_CHAPTERS, ids=[p.stem for p in EXERCISE_CHAPTERS])
def test_chapter_has_three_exercises_with_public_checks_and_graded_tests(path):
    nb = nbformat.read(path, as_version=4)
    questions = []
    for i, cell in enumerate(nb.cells):
        if "solution" in cell.metadata.get("tags", []):
            q = cell.metadata["grading"]["question"]
            assert q.startswith(path.stem[:2] + "-"), f"{path.name}: question {q!r} must start with {path.stem[:2]}-"
            assert "# BEGIN SOLUTION" in cell.source and "# END SOLUTION" in cell.source
            nxt = nb.cells[i + 1]
            assert "public-check" in nxt.metadata.get("tags", []) and f'check("{q}"' in nxt.source
            questions.append(q)
    assert len(questions) >= 3, f"{path.name}: {len(questions)} exercises, expected at least 3"
    graded = " ".join(p.read_text() for p in (ROOT / "grading" / path.stem).glob("test_*.py"))
    untested = [q for q in questions if f'"{q}"' not in graded]
    assert not untested, f"questions without graded tests in grading/{path.stem}/: {untested}"


def test_package_dependencies_are_ranges_so_colab_keeps_its_torch():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if "==" in d], "no exact pins in nblib's dependencies (Colab)"


def test_requirements_pin_jupyter_book_1_and_leave_sphinx_to_it():
    req = (ROOT / "requirements.txt").read_text()
    assert "jupyter-book>=1.0.4,<2" in req
    assert not re.search(r"^(sphinx|docutils|myst-parser)\b", req, re.M | re.I)


def test_readme_shows_the_two_commands_first_and_ci_runs_the_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    assert "make book" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_book_ignores_hidden_folders():
    # a first `make test` leaves .pytest_cache/README.md behind; read as a page, it would fail the
    # next `-W` build of the book with "document isn't included in any toctree"
    patterns = config()["exclude_patterns"]
    assert ".*" in patterns and "**/.*" in patterns
