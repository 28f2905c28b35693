# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
export OMP_WAIT_POLICY ?= PASSIVE
# Use the local data copy beside the project when there is one (else the loader downloads).
ifneq ($(wildcard ../shared/data/mnist),)
export ROBUSTLAB_DATA ?= $(abspath ../shared/data)
endif

.PHONY: demo test test-slow lint docs bench clean

# The exact torch CI tests (pyproject.toml declares the supported range).
TORCH ?= torch==2.13.0
# Install steps are numbered and pip's own progress (packages collected, downloads) shows.
PIP := $(BIN)/pip install --progress-bar on

$(BIN)/python:
	@echo "[install 1/4] creating $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: that exact version installs a CPU build from a local file.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "[install 2/4] $(TORCH) (the largest download)"
	$(PIP) $(TORCH)
	@echo "[install 3/4] robustlab and its dependencies"
	$(PIP) -e .
	touch $@

$(DEVSTAMP): pyproject.toml $(STAMP)
	@echo "[install 4/4] development tools (tests, linters, docs)"
	$(PIP) -e '.[dev]' $(TORCH)
	# torchattacks declares torchvision (which would pull a CUDA torch): install it alone.
	$(BIN)/pip install -q --no-deps torchattacks
	touch $@

RESULTS ?= results

# The main job: the quick reproduction of every experiment, then the HTML report.
demo: $(STAMP)
	$(BIN)/robustlab run all --preset quick --out $(RESULTS)
	$(BIN)/robustlab report $(RESULTS)
	@echo "report: $(abspath $(RESULTS))/index.html"

lint: $(DEVSTAMP)
	$(BIN)/ruff check src tests benchmarks examples tools
	$(BIN)/ruff format --check src tests benchmarks examples tools
	$(BIN)/mypy

# The documentation site (site/); --strict: a broken reference or link fails the build
# (not --quiet: it hides the warnings that --strict counts).
docs: $(DEVSTAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

test: lint docs
	$(BIN)/python -m pytest

test-slow: $(DEVSTAMP)
	$(BIN)/python -m pytest -m slow

bench: $(DEVSTAMP)
	$(BIN)/python benchmarks/attacks.py

clean:
	rm -rf $(VENV) results site .pytest_cache .mypy_cache .ruff_cache
