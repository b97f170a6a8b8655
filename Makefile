# Two commands: `make serve` runs the API and web maps, `make test` runs every check.
# Both create the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The project's own bytecode, written even where PYTHONDONTWRITEBYTECODE is set (pip does
# the same for the installed libraries): compiling api/, layers/ and geo/ at every start
# cost 0.45 s of the 2 s warm start (bench/startup.py). Quick when nothing changed.
COMPILE := $(BIN)/python -m compileall -q -j 0 api layers geo

.PHONY: serve test check pytest docs docs-build seeds bench clean

# Installed from the lock file (exact versions, see requirements.lock). setuptools warns on
# every editable install that folders named like the packages may shadow them; here those
# folders are the packages, so that one message is silenced.
$(STAMP): pyproject.toml requirements.lock setup.py geo/_kernels.pyx geo/_transit.pyx
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	$(COMPILE)
	touch $(STAMP)

# To refresh the lock: install unpinned, then freeze.
$(VENV)/.installed-unlocked: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

serve: $(STAMP)
	$(COMPILE)
	$(BIN)/venue-planner serve

test: check pytest docs-build

# The manual (docs/, MkDocs with the Material theme): built in strict mode by `make test`, after
# the browser tests have taken its screenshots; `make docs` serves it at http://127.0.0.1:8001.
DOCS_ENV := NO_MKDOCS_2_WARNING=1
docs-build: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs build --strict --quiet

docs: $(STAMP)
	$(DOCS_ENV) $(BIN)/mkdocs serve --strict -a 127.0.0.1:8001

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/numpydoc lint $$(find geo layers -name '*.py' | sort)

pytest: $(STAMP)
	$(BIN)/pytest

seeds: $(STAMP)
	$(BIN)/venue-planner seeds build

# Each bench prints its figures and writes them to bench/results/NAME.json; compare.py then
# prints every figure more than 30 % worse than bench/baseline (`python bench/compare.py --update`
# stores the current figures as the baseline).
bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/coverage.py
	$(BIN)/python bench/maps.py
	$(BIN)/python bench/regional.py
	$(BIN)/python bench/impact.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/transit.py
	$(BIN)/python bench/compare.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
