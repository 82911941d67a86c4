# Two commands for a fresh machine: `make up` runs the system, `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The hashed lock (requirements/lock.sh): CI and `make test` install exactly these versions.
LOCK   := requirements/dev.txt

.PHONY: up test test-fast demo lint lock bench clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	@# Outside CI, a dependency added to pyproject.toml but not locked yet still installs
	@# (from its range); CI installs the lock alone and tests/test_lock.py names what is stale.
	[ "$${CI:-}" = true ] || $(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Regenerate requirements/*.txt after changing dependencies in pyproject.toml (UPGRADE=1: newest).
lock:
	test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet 'uv>=0.5'
	UV=$(VENV)/bin/uv UPGRADE=$(UPGRADE) requirements/lock.sh

up: $(STAMP)
	$(PY) -m deploy.local $(UP_ARGS)

demo: $(STAMP)
	$(PY) -m deploy.demo

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The fast tier: domain and application layer on SQLite, no NATS, PostgreSQL, browser or
# subprocess (the `fast` marker), in seconds; `make test` still runs everything.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "fast and not nats and not postgres and not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf var
