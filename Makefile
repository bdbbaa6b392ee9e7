# The two commands a newcomer needs: `make run` and `make test`.
# Everything is installed from the lock (requirements/*.txt, exported from
# uv.lock), so a build next year installs what CI tested; CONTRIBUTING.md says
# how to update it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
LOCK := requirements/dev.txt
STAMP := $(VENV)/.installed
RUNTIME_LOCK := requirements/runtime.txt
RUNTIME_STAMP := $(VENV)/.runtime
FAST := not ops and not browser and not deploy and not image and not processes
# The generated TypeScript client's npm project (tests/reporting/
# test_typescript_client.py): its tools installed from its lock by `npm ci`,
# which rewrites node_modules/.package-lock.json, the stamp.
TS_CLIENT := clients/typescript
TS_STAMP := $(TS_CLIENT)/node_modules/.package-lock.json
# The image `make image` builds and `make image-smoke` tests.
IMAGE ?= localhost/mhpss-platform:latest
# make test-fast runs this many pytest-xdist workers, each with its own
# databases and Redis database (tests/conftest.py); one per core by default.
# worksteal: a worker that runs out of tests takes the queued tests of the
# other, so a long test near the end (the embedded stack starts the whole
# stack) does not leave one core idle while the other works through a queue.
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

# The venv's tools (caddy, hadolint, shellcheck, ...) come first for every recipe.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test test-fast test-deps lint lock lock-check install migrate worker clean \
	image image-smoke image-check client-deps

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Node.js 20 and npm are the machine's (CI has them); packages come from the lock.
$(TS_STAMP): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	@command -v npm >/dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)' \
		|| { echo "make: the TypeScript client's test needs Node.js 20 or later and npm on PATH" >&2; exit 1; }
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund
	touch $@

## Install the TypeScript client's tools (openapi-typescript, openapi-fetch, tsc) from its lock.
client-deps: $(TS_STAMP)

# `make run` needs only the services' own dependencies (no test, bench or
# deploy-check tools); a full install satisfies it too.
$(RUNTIME_STAMP): pyproject.toml $(RUNTIME_LOCK)
	@if [ -f $(STAMP) ] && [ $(STAMP) -nt $(RUNTIME_LOCK) ]; then touch $@; exit 0; fi; \
	$(PYTHON) -m venv $(VENV) && \
	$(BIN)/pip install --quiet --require-hashes -r $(RUNTIME_LOCK) && \
	$(BIN)/pip install --quiet --no-deps -e . && \
	touch $@

## Start all services on the embedded default (SQLite under ./data, jobs in-process).
run: $(RUNTIME_STAMP)
	$(BIN)/python -m services.stack --host $(HOST) --port $(PORT)

# The suites keep Python's bytecode caches (and pytest's rewritten test
# modules) even where the environment turns them off (PYTHONDONTWRITEBYTECODE
# is set on the project's shared machines, as in the image): without them each
# pytest worker and each process a test starts (the embedded stack, the
# commands) compiles the project's modules again, about 2 s of CPU each.
test test-fast: export PYTHONDONTWRITEBYTECODE :=

## Run the whole suite, after installing or starting what it needs; all but
## the image's smoke test (make image-check).
test: $(STAMP) $(TS_STAMP)
	scripts/test-deps all
	$(BIN)/python -m pytest -m "not image"

## Everyday loop: all but the ops, browser, deploy and image suites and the
## tests that start processes (marker processes); needs PostgreSQL and Redis.
test-fast: $(STAMP)
	scripts/test-deps services
	$(BIN)/python -m pytest -m "$(FAST)" -n $(WORKERS) --dist worksteal

## Install or start what the suite needs (Chromium, Caddy, PostgreSQL, Redis, the client's npm packages).
test-deps: $(STAMP) $(TS_STAMP)
	scripts/test-deps all

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports
	@! git grep -n -E '^(<<<<<<<|>>>>>>>)( |$$)' -- . || \
		{ echo "Merge conflict markers left in the files above"; exit 1; }

## Re-resolve uv.lock after a change to pyproject.toml and export the
## requirements files; LOCK_ARGS=--upgrade (or --upgrade-package NAME) moves pins.
lock: $(STAMP)
	$(BIN)/uv lock $(LOCK_ARGS)
	$(BIN)/uv export --quiet --no-header --frozen --no-emit-project --all-extras -o requirements/dev.txt
	$(BIN)/uv export --quiet --no-header --frozen --no-emit-project -o requirements/runtime.txt

## Fails when uv.lock or the exported files do not match pyproject.toml.
lock-check: $(STAMP)
	$(BIN)/uv lock --check
	$(BIN)/uv export --quiet --no-header --frozen --no-emit-project --all-extras | diff -q - requirements/dev.txt
	$(BIN)/uv export --quiet --no-header --frozen --no-emit-project | diff -q - requirements/runtime.txt

migrate: $(STAMP)
	$(BIN)/python -m services.beneficiary migrate

worker: $(STAMP)
	$(BIN)/python -m services.beneficiary worker

## Write the published OpenAPI documents (docs/openapi/) after an API change.
.PHONY: openapi
openapi: $(STAMP)
	$(BIN)/python -m services.openapi

## Validate deploy/ (Dockerfile, Compose, Caddyfile, Kubernetes).
.PHONY: validate-deploy
validate-deploy: $(STAMP)
	VENV=$(VENV) deploy/validate.sh

## Build the image (deploy/Dockerfile) with podman: vfs storage, chroot
## isolation, the base from Debian's packages when no registry answers, pip
## trusting this machine's CA bundle (a build secret); prints its size.
image:
	IMAGE=$(IMAGE) scripts/image build

## Smoke-test the built image (tests/image): its processes started from its
## mounted tree as its user, behind the Caddyfile, on the test PostgreSQL and Redis.
image-smoke: $(STAMP)
	scripts/test-deps image
	MHPSS_IMAGE=$(IMAGE) $(BIN)/python -m pytest tests/image

## Both, as CI runs them.
image-check: image image-smoke

clean:
	rm -rf $(TS_CLIENT)/node_modules $(TS_CLIENT)/build $(TS_CLIENT)/src/generated
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .hypothesis .schemathesis
