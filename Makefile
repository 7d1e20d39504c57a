# The workbook's commands. Everything runs inside .venv, created on first use from pyproject.toml.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
# Tests and notebook runs use the embedded sample prices: offline and deterministic.
export PRICE_SOURCE ?= sample

.DEFAULT_GOAL := help
.PHONY: help lab test test-notebooks nbval test-newest test-live test-e2e export notebooks serve bench fuzz soak lint format typecheck constraints clean

help: ## List the commands
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-11s %s\n", $$1, $$2}'

# The versions the stored notebook outputs were made with; `make test-newest` tries the newest ones instead.
CONSTRAINTS := constraints.txt
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) $(PIP_INSTALL) -c $(CONSTRAINTS) -e '.[dev]'
	@touch $@

# Extra flags for JupyterLab, e.g. `make lab LAB_ARGS="--no-browser --port 8888"`; root (containers) needs --allow-root.
LAB_ARGS ?=
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# The project's JupyterLab settings (jupyter/overrides.json): no news or update pop-ups on the first screen.
LAB_FLAGS := --notebook-dir=notebooks --LabApp.app_settings_dir=$(CURDIR)/jupyter --LabApp.news_url=None \
	--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate

lab: $(STAMP) ## Open the workbook in JupyterLab
	$(VENV)/bin/jupyter lab $(LAB_FLAGS) $(ALLOW_ROOT) $(LAB_ARGS)

# Strict nbval for notebooks, with its own pytest configuration (tests/nbval.ini) kept out of the learner's view.
NBVAL := $(PY) -m pytest -c tests/nbval.ini --rootdir .
NB ?= notebooks

# The notebooks that start a local redis-server: where it is missing, `make test` skips them and says so (the
# Redis tests skip themselves, and -rs prints each skipped test with its reason).
REDIS_NOTEBOOKS := notebooks/deep_dives/02d_shared_cache.ipynb notebooks/08_scale_out.ipynb notebooks/deep_dives/08a_fleet.ipynb
NO_REDIS := $(if $(shell command -v redis-server),,yes)
REDIS_HINT := redis-server is not installed: apt-get install redis-server (or brew install redis)

test: $(STAMP) ## Format, lint, types, unit tests, and every notebook under strict nbval (offline)
	$(PY) -m ruff format --check plugin workbook tests tools benchmarks notebooks
	$(PY) -m ruff check plugin workbook tests tools benchmarks notebooks
	$(PY) -m mypy
	$(PY) -m pytest -rs tests
	@$(if $(NO_REDIS),echo "SKIPPED notebooks $(REDIS_NOTEBOOKS): $(REDIS_HINT)")
	$(NBVAL) $(if $(NO_REDIS),$(addprefix --ignore=,$(REDIS_NOTEBOOKS))) notebooks

nbval: $(STAMP) ## Strict nbval for some notebooks: make nbval NB="notebooks/02_prices.ipynb"
	$(NBVAL) $(NB)

# The newest release of every dependency, in a venv of its own: what users who ignore constraints.txt get.
NEWEST := .venv-newest
test-newest: ## The unit tests and notebooks against the newest versions of every dependency
	@test -x $(NEWEST)/bin/python || $(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/python $(PIP_INSTALL) --upgrade -e '.[dev]'
	$(NEWEST)/bin/python -m pytest tests
	$(NEWEST)/bin/python -m pytest -c tests/nbval.ini --rootdir . notebooks

constraints: ## Rewrite constraints.txt from .venv (after a deliberate upgrade; then `make notebooks`)
	$(PY) -m pip freeze --exclude-editable --disable-pip-version-check | LC_ALL=C sort > $(CONSTRAINTS)

test-live: $(STAMP) ## The smoke tests that talk to the real Yahoo Finance
	PRICE_SOURCE=yahoo $(PY) -m pytest -m live --run-live tests

test-e2e: $(STAMP) ## Drive JupyterLab and /docs in headless Chromium
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,e2e]'
	$(PY) -m pytest -m e2e --run-e2e tests/e2e

export: $(STAMP) ## Write plugin/ from the notebooks' #| export cells
	$(PY) -m workbook

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

lint: $(STAMP) ## Lint and format check only
	$(PY) -m ruff format --check plugin workbook tests tools benchmarks notebooks
	$(PY) -m ruff check plugin workbook tests tools benchmarks notebooks

format: $(STAMP) ## Format every file ruff formats (notebooks included); `make export` output is formatted too
	$(PY) -m ruff format plugin workbook tests tools benchmarks notebooks

typecheck: $(STAMP) ## mypy with the pydantic plugin, configured in pyproject.toml
	$(PY) -m mypy

clean: ## Remove caches (keeps .venv)
	rm -rf .pytest_cache .ruff_cache .mypy_cache .cache build *.egg-info
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +
