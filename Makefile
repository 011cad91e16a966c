# Developer and CI entry points. Needs only Python 3.11+ and make; everything else lands in .venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
DATABASE_URL ?= sqlite:///./data/policy.db
PYTEST_ARGS ?=
# The lock files pin every runtime and dev package with hashes; `make lock` refreshes them with this pip-tools.
PIP_TOOLS_VERSION := 7.6.2
LOCK_DEV := requirements/dev.txt
LOCK_RUNTIME := requirements/runtime.txt
LOCK_VENV := .venv-lock
export DATABASE_URL

.PHONY: help venv lock run test lint format typecheck openapi openapi-check ts-check bench-engine bench-http bench-mixed bench-pg evaluate train train-check corpus-check clean

help:
	@echo "make run            start the service on http://$(HOST):$(PORT) (SQLite at ./data/policy.db by default)"
	@echo "make test           run the whole test suite (SQLite, or DATABASE_URL)"
	@echo "make lint           ruff: lint rules and the formatter's check"
	@echo "make format         apply the formatter (ruff format) and ruff's safe fixes"
	@echo "make typecheck      mypy over app/, bench/, migrations/ and tests/ (settings in pyproject.toml)"
	@echo "make lock           re-resolve requirements/*.txt (hashed lock files) from pyproject.toml's ranges"
	@echo "make openapi        regenerate openapi.json and openapi.md from the live spec"
	@echo "make openapi-check  fail when openapi.json / openapi.md are stale"
	@echo "make ts-check       generate TypeScript types from the spec and type-check a client (needs node)"
	@echo "make evaluate       the screener's report: dev and sealed test side by side, held-out tweets, learning curve"
	@echo "make train          train the clause classifiers from corpus/ (writes app/screening/learned/models/)"
	@echo "make train-check    retrain into a temporary file and check it predicts what the shipped model does"
	@echo "make corpus-check   validate the labelled corpus (schema, labelling rules, duplicates, counts)"
	@echo "make bench-engine   engine throughput;  make bench-http   HTTP load test"
	@echo "make bench-mixed    the realistic mix (screenings, incidents, lists, policy) and each route alone, 2 workers,"
	@echo "                    next to /healthz and the bare insert (SQLite, or DATABASE_URL's PostgreSQL)"
	@echo "make bench-pg       the same on PostgreSQL (BENCH_POSTGRES_URL), with issue 16's targets PASS/FAIL"

# Exactly the locked versions (hash-checked), then the project itself without resolving anything.
$(VENV)/.installed: pyproject.toml $(LOCK_DEV)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=python3.11)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK_DEV)
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

venv: $(VENV)/.installed

# Re-resolve both lock files from pyproject.toml (newest versions inside its ranges). The runtime lock
# is constrained by the dev lock, so the image and the developers run the same versions.
lock:
	@test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/pip install --quiet "pip-tools==$(PIP_TOOLS_VERSION)"; }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --upgrade --generate-hashes \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra dev -o $(LOCK_DEV) pyproject.toml
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		-c $(LOCK_DEV) -o $(LOCK_RUNTIME) pyproject.toml

run: venv
	@mkdir -p data
	$(VENV)/bin/alembic upgrade head
	@echo ""
	@echo "  Docs:    http://$(HOST):$(PORT)/docs"
	@echo "  Token:   TOKEN=\$$($(PY) -m app token --sub me --scopes \"policy:read screenings:write\")"
	@echo "  Try:     curl -H \"Authorization: Bearer \$$TOKEN\" http://$(HOST):$(PORT)/v1/policy"
	@echo ""
	$(VENV)/bin/uvicorn app.main:app --host $(HOST) --port $(PORT) --no-proxy-headers \
		--http app.http_server:BoundedHttpToolsProtocol

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check app tests bench migrations
	$(VENV)/bin/ruff format --check app tests bench migrations

format: venv
	$(VENV)/bin/ruff format app tests bench migrations
	$(VENV)/bin/ruff check --fix app tests bench migrations

typecheck: venv
	$(VENV)/bin/mypy

openapi: venv
	$(PY) -m app.openapi_doc --write

openapi-check: venv
	$(PY) -m app.openapi_doc --check

ts-check: venv
	bash tests/contract/ts_check.sh

# "earlier sets": labelled posts written for the tests in earlier sessions, never trained on.
comma := ,
space := $(subst ,, )
# The reworded development posts are dev's own posts in other words, reported on their own (README).
EARLIER_SETS := $(subst $(space),$(comma),$(sort $(filter-out tests/screening/reworded_dev.jsonl,$(wildcard tests/screening/*.jsonl))))

evaluate: venv
	$(PY) -m app.screening.learned.report --curve --extra "earlier sets=$(EARLIER_SETS)" \
		--out corpus/independence_project/REPORT.txt

train: venv
	$(PY) -m app.screening.learned.train

train-check: venv
	$(PY) -m app.screening.learned.reproduce

corpus-check: venv
	$(PY) -m app.screening.learned.corpus

bench-engine: venv
	$(PY) -m bench.engine

bench-http: venv
	$(PY) -m bench.http

bench-mixed: venv
	$(PY) -m bench.mixed

bench-pg: venv
	$(PY) -m bench.mixed --database postgresql

clean:
	rm -rf $(VENV) $(LOCK_VENV) data .pytest_cache .ruff_cache .mypy_cache
