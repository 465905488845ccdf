"""Execute each chapter once at full settings, and hand the result to the book build.

``execute(path)`` runs a chapter notebook top to bottom in a fresh ``python3`` kernel (cwd: the
chapter's folder, like the book build), exactly as myst-nb would: the same executor
(``jupyter_cache``'s ``single_nb_execution``, nbclient underneath, widget state stored). The
executed notebook is then stored in the book's execution cache (``_build/.jupyter_cache``, the
one ``execute_notebooks: cache`` reads), keyed by the notebook's code, so ``jupyter-book build``
renders it without running it again. A chapter whose code changed since is a cache miss, and
the build executes it itself: ``make book`` alone still executes and renders.

The executed copy is also written to ``_build/executed/<stem>.ipynb`` for a human to inspect.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from paths import BUILD

CACHE = BUILD / ".jupyter_cache"      # where jupyter-book's `execute_notebooks: cache` looks
EXECUTED = BUILD / "executed"
TIMEOUT = 900                          # seconds per cell, as execute.timeout in _config.yml


@dataclass
class Execution:
    path: Path
    seconds: float
    error: str | None                  # the traceback of the failing cell, or None

    @property
    def ok(self) -> bool:
        return self.error is None


def execute(path: Path, cache: Path = CACHE, executed: Path = EXECUTED) -> Execution:
    """Run ``path`` once; on success store it in the book's execution cache."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    result = single_nb_execution(nb, cwd=str(path.parent), timeout=TIMEOUT, allow_errors=False)
    seconds = time.perf_counter() - start
    executed.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, executed / path.name)
    if result.err is not None:
        error = result.exc_string or repr(result.err)
        return Execution(path, seconds, re.sub(r"\x1b\[[0-9;]*m", "", error))  # no colour codes
    get_cache(str(cache)).cache_notebook_bundle(
        CacheBundleIn(nb, str(path), data={"execution_seconds": result.time}),
        check_validity=False, overwrite=True)
    return Execution(path, seconds, None)
