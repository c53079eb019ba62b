# shixun (师训) — everything a developer or CI runs goes through these targets.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup run test lint format migrate bench-rush bench-ledger clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install pinned dependencies

run: setup  ## the whole suite: embedded NATS + SQLite (or DATABASE_URL/NATS_URL), gateway on :8000
	$(BIN)/python -m shared.supervisor

test: setup  ## the test suite (embedded default, or real servers via DATABASE_URL/NATS_URL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

migrate: setup  ## apply every service's migrations without starting the services
	$(BIN)/python -m shared.migrate upgrade

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
