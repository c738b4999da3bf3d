# Two commands on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)
SHARED_DATA := $(abspath ../shared/data)

# Tests run on the embedded PostgreSQL under var/test (zero setup) unless DATABASE_URL names a
# server: `make test DATABASE_URL=postgres://postgres@127.0.0.1:5432/microcurate`. The benchmarks
# default to this machine's PostgreSQL, where their recorded results were measured.
DATABASE_URL ?=
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/microcurate
export DATABASE_URL
TEST_ENV := CELERY_BROKER_URL=redis://127.0.0.1:6379/15 \
	MICROCURATE_VAR_DIR=$(CURDIR)/var/test \
	MICROCURATE_MEDIA_ROOTS=$(SHARED_DATA) \
	MICROCURATE_SHARED_DATA=$(SHARED_DATA)

.PHONY: setup services demo test lint bench soak bench-label-studio clean

$(STAMP): requirements.txt scripts/setup.sh
	bash scripts/setup.sh
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

services:
	bash scripts/services.sh

demo: setup
	bash scripts/demo.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: setup services
	$(VENV)/bin/ruff check .
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	DATABASE_URL=$(BENCH_DATABASE_URL) bash scripts/services.sh
	$(TEST_ENV) DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/run.py $(BENCH_ARGS)

# The whole stack under load for SOAK_SECONDS (default 300): `make soak SOAK_SECONDS=30`. Its own
# Redis database, so no other worker takes its tasks. Not part of `make test` or `make bench`.
SOAK_SECONDS ?= 300
soak: setup
	DATABASE_URL=$(BENCH_DATABASE_URL) bash scripts/services.sh
	$(TEST_ENV) DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \
		SOAK_SECONDS=$(SOAK_SECONDS) $(PY) bench/soak.py

# The Label Studio reference measured on this machine (installs Label Studio into bench/work).
bench-label-studio: setup
	DATABASE_URL=$(BENCH_DATABASE_URL) bash scripts/services.sh
	$(TEST_ENV) DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) bench/run.py label_studio

clean:
	-[ -x $(PY) ] && for d in var var/test; do $(PY) -c "import sys; from pathlib import Path; \
		from config.embedded_db import embedded_database_stop; embedded_database_stop(Path(sys.argv[1]))" $$d/postgres; done
	rm -rf var bench/work
