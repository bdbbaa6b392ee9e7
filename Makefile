# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint install migrate worker clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## Start all services on the embedded default (SQLite under ./data, jobs in-process).
run: $(STAMP)
	$(BIN)/python -m services.stack --host $(HOST) --port $(PORT)

## Run the whole suite (needs PostgreSQL and Redis; see README).
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

migrate: $(STAMP)
	$(BIN)/python -m services.beneficiary migrate

worker: $(STAMP)
	$(BIN)/python -m services.beneficiary worker

## Validate deploy/ (Dockerfile, Compose, Caddyfile, Kubernetes); needs caddy.
.PHONY: validate-deploy
validate-deploy: $(STAMP)
	VENV=$(VENV) deploy/validate.sh

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
