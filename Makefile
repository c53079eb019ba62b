# shixun (师训) — everything a developer or CI runs goes through these targets.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: setup run test lint format migrate bench-rush bench-ledger bench-budget bench-feedback bench-logins bench-catalogue clean

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

bench-rush: setup  ## selection day: accounts, a login storm and the seat rush, beside a bare PostgreSQL UPDATE
	$(BIN)/python bench/selection_day.py $(BENCH_ARGS)

bench-ledger: setup  ## 100,000 teachers x 5 years: compliance report, one teacher, an import
	$(BIN)/python bench/ledger_scale.py $(BENCH_ARGS)

bench-budget: setup  ## concurrent funding requests against school pools
	$(BIN)/python bench/budget_funding.py $(BENCH_ARGS)

bench-logins: setup  ## 10,000 teachers' logins in one roster import, to the code sheet
	$(BIN)/python bench/logins_at_scale.py $(BENCH_ARGS)

bench-feedback: setup  ## the deadline scheduler over many evaluation tasks
	$(BIN)/python bench/feedback_deadlines.py $(BENCH_ARGS)

bench-catalogue: setup  ## the phone's catalogue over 5,000 programs: Chinese search, filters, for me
	$(BIN)/python bench/catalogue_search.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
