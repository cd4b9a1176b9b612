# Development entry points. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MAGE_TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/mage_test
MAGE_TEST_MARIADB_URL ?= mysql+asyncmy://root@127.0.0.1:3306/mage_test_maria

# The server-database runs leave out what does not depend on the database: end-to-end
# and browser tests, and the render worker's tests (the worker never opens a database).
SERVER_DB_TESTS := -m "not e2e and not browser" --ignore=tests/render

export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test test-sqlite test-postgres test-mariadb lint format bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/mage-studio migrate
	$(BIN)/mage-studio seed
	$(BIN)/mage-studio serve

lint: install
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench migrations
	$(BIN)/ruff format src tests bench migrations

test-sqlite: install
	MAGE_TEST_DATABASE_URL=sqlite $(BIN)/pytest -q

test-postgres: install
	MAGE_TEST_DATABASE_URL=$(MAGE_TEST_POSTGRES_URL) $(BIN)/pytest -q $(SERVER_DB_TESTS)

test-mariadb: install
	MAGE_TEST_DATABASE_URL=$(MAGE_TEST_MARIADB_URL) $(BIN)/pytest -q $(SERVER_DB_TESTS)

test: lint test-sqlite test-postgres test-mariadb

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
