"""Where things are, defined once for every test folder (``lib/``, ``grading/``, ``book/``):
the repository, the test fixtures, the build folder, and the book's chapters in reading order."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]   # the repository
TESTS = ROOT / "tests"
FIXTURES = TESTS / "fixtures"                  # data for tests, never collected as tests
FIXTURE_BOOK = FIXTURES / "book"               # a one-chapter book with graded exercises
BUILD = ROOT / "_build"


def toc_files() -> list[str]:
    """Every file named in _toc.yml, in reading order, without extension."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def toc_notebooks() -> list[Path]:
    """The chapter notebooks named in _toc.yml, in reading order."""
    return [ROOT / f"{f}.ipynb" for f in toc_files() if (ROOT / f"{f}.ipynb").exists()]


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())
