# The workbook's commands. Everything runs inside .venv, created on first use from pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
# Tests and notebook runs use the embedded sample prices: offline and deterministic.
export PRICE_SOURCE ?= sample

.DEFAULT_GOAL := help
.PHONY: help lab test test-live test-e2e export notebooks serve bench fuzz soak lint clean

help: ## List the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Extra flags for JupyterLab, e.g. `make lab LAB_ARGS="--no-browser --port 8888"`; root (containers) needs --allow-root.
LAB_ARGS ?=
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP) ## Open the workbook in JupyterLab
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(ALLOW_ROOT) $(LAB_ARGS)

test: $(STAMP) ## Lint, unit tests, and every notebook under strict nbval (offline)
	$(PY) -m ruff check plugin tests tools benchmarks notebooks
	$(PY) -m pytest tests
	$(PY) -m pytest notebooks

test-live: $(STAMP) ## The smoke tests that talk to the real Yahoo Finance
	PRICE_SOURCE=yahoo $(PY) -m pytest -m live --run-live tests

test-e2e: $(STAMP) ## Drive JupyterLab and /docs in headless Chromium
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,e2e]'
	$(PY) -m pytest -m e2e --run-e2e tests/e2e

export: $(STAMP) ## Write plugin/ from the notebooks' #| export cells
	$(PY) tools/export.py

notebooks: export ## Re-execute every notebook in place (deterministic, metadata cleaned)
	$(PY) tools/run_notebooks.py

serve: $(STAMP) ## Run the plugin as a service (Yahoo, falling back to sample data)
	$(PY) -m plugin serve --source auto

bench: $(STAMP) ## Benchmarks on loopback, each a ratio to a same-run baseline (writes benchmarks/RESULTS.md)
	$(PY) benchmarks/run.py

fuzz: $(STAMP) ## Spec-driven fuzzing, long run: FUZZ_EXAMPLES (default 1000) new examples per operation
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-1000} $(PY) -m pytest -p no:cacheprovider tests/test_fuzz.py

soak: $(STAMP) ## 60 s of mixed load at 64 connections on loopback: no 5xx, no errors, flat memory and threads
	$(PY) tools/soak.py --seconds 60 --connections 64

lint: $(STAMP) ## Lint only
	$(PY) -m ruff check plugin tests tools benchmarks notebooks

clean: ## Remove caches (keeps .venv)
	rm -rf .pytest_cache .ruff_cache .cache build *.egg-info
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
