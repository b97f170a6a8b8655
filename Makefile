# Two commands: `make serve` runs the API and web maps, `make test` runs every check.
# Both create the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test check pytest seeds bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/venue-planner serve

test: check pytest

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

seeds: $(STAMP)
	$(BIN)/venue-planner seeds build

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/coverage.py
	$(BIN)/python bench/maps.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
