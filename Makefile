# homerun-bridge: `make run` and `make test` are all a newcomer needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint types unit explore bench soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The bridge on :8080 in front of an embedded API v2 sandbox on :8081.
run: $(STAMP)
	$(BIN)/homerun-bridge demo

## Lint, types, then the whole suite.
test: lint types unit

lint: $(STAMP)
	$(BIN)/ruff check proxy mappings sandbox tests bench
	$(BIN)/ruff format --check proxy mappings sandbox tests bench
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -p no:cacheprovider

## The property and schemathesis suites with a fresh seed (printed; HYPOTHESIS_SEED=<n> replays).
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/pytest -p no:cacheprovider tests/mappings tests/hostile \
	  tests/sandbox/test_schemathesis.py

bench: $(STAMP)
	$(BIN)/python -m bench

soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
