# The verbs of the project. `make book` and `make test` work on a fresh clone with Python 3.11
# (and Node/npm for the offline widget assets); they create .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
# torch is installed before everything else, by itself, so pip never picks a multi-GB CUDA
# build on a CPU-only machine: torch==2.13.0 resolves to the CPU wheel here and in CI. Elsewhere,
# choose the build you want, e.g. make test TORCH_INDEX="--index-url <PyTorch's CPU wheel index>".
# If torch is already importable (Colab, a GPU machine) it is left alone.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
STAMP := $(VENV)/.installed
export NBLIB_QUIET := 1
export PYTHONHASHSEED := 0
# Executing the master notebooks, a reference solution that fails its public check is an error
# (for a learner in `make lab`, check() only prints its verdict).
book test check: export NBLIB_STRICT_CHECKS := 1

.PHONY: help book test check lab results release clean system-deps

help:
	@echo "make book     set up .venv, execute every chapter, render _build/html (warnings are errors)"
	@echo "make test     set up .venv, run every test: nblib, grading, each chapter once at full settings"
	@echo "              and once in smoke mode, the book rendered from those runs, browser tests"
	@echo "make check    fast: unit tests + every chapter in smoke mode + stepper renderers"
	@echo "make lab      JupyterLab on the chapters"
	@echo "make results  one Markdown table of every chapter's recorded results and run time"
	@echo "make release  student notebooks (solutions stripped) in student/"

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_INDEX) "$(TORCH_SPEC)"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	@touch $@

# Offline assets of the rendered book (require.js, the widget manager, anywidget, MathJax),
# installed from package-lock.json: the site never loads them from a CDN.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages: chromium for the browser tests, bubblewrap for the grading sandbox.
system-deps:
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

book: $(STAMP) node_modules/.package-lock.json
	rm -rf _build/html
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "open _build/html/index.html"

# Each chapter is executed once at full settings (tests/book/test_chapters.py, cached in
# _build/.jupyter_cache) and the book is rendered from those runs (tests/book/test_book.py);
# smoke runs are separate and fast. On a GPU machine chapters use CUDA automatically
# (NBLIB_DEVICE=cuda makes it explicit), and the results record the device.
test: $(STAMP) node_modules/.package-lock.json system-deps
	$(PY) -m pytest tests --durations=15

check: $(STAMP) node_modules/.package-lock.json system-deps
	$(PY) -m pytest tests -m "not slow" -q

lab: $(STAMP)
	$(VENV)/bin/jupyter lab chapters

results: $(STAMP)
	$(PY) -m nblib.results --out _build/results/results.md

release: $(STAMP)
	$(VENV)/bin/nblib release chapters --out student

clean:
	rm -rf _build student
