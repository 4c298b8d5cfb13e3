# Everything starts from a machine with only Python: the targets make .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-lowest lint docs docs-serve docs-sync diagrams charts load bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-%: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

## demo: an embedded Redis, 3 workers and client.py; waits for the 100 tasks, prints a summary, stops all.
## Its .venv has the extras the docs' pages use too (cron=, the dashboard, metrics), so each page runs as it is
DEMO_EXTRAS := embedded,cron,dashboard,metrics
demo: $(VENV)/.installed-$(DEMO_EXTRAS)
	$(BIN)/python scripts/demo.py

## test: lint, the docs site's strict build, then the test suite against a real Redis (see tests/conftest.py), in
## two processes (pytest-xdist; each starts its own redis-server): most of a test's time is waiting on Redis and
## on worker processes, so two of them share two cores
test: $(VENV)/.installed-test lint docs chromium
	CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest -n 2
	$(MAKE) --no-print-directory test-lowest

## test-lowest: the tests that use every part of redis-py yotaq does (clients, pipelines, scripts, Cluster,
## Sentinel, asyncio, client tracking) again, with the lowest redis-py and dill pyproject.toml allows, put
## ahead of the venv's own on the path: its lower bounds are tested, not hoped for
LOWEST := $(CURDIR)/.lowest
LOWEST_TESTS := tests/test_walkthrough.py tests/test_queue.py tests/test_worker.py tests/test_serializer.py \
	tests/test_lost_replies.py tests/test_executor.py tests/test_no_private.py "tests/test_aio.py::test_on_a_cluster_and_through_sentinel"
test-lowest: $(VENV)/.installed-test
	$(BIN)/python scripts/lowest.py > $(LOWEST).txt
	$(BIN)/python -m pip install --quiet --no-deps --upgrade --target $(LOWEST) -r $(LOWEST).txt
	PYTHONPATH=$(LOWEST) $(BIN)/python scripts/lowest.py --check
	PYTHONPATH=$(LOWEST) $(BIN)/python -m pytest -q -p no:cacheprovider $(LOWEST_TESTS)

## chromium: Debian's chromium, which the dashboard's browser tests drive through Playwright (Playwright's own
## browser download is not used); installed with apt-get when missing, as root, else a clear failure
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make: the browser tests need $(CHROMIUM): run 'sudo apt-get install chromium' (or set CHROMIUM=path)" >&2; \
		exit 1; \
	fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	[ -x "$(CHROMIUM)" ] || { echo "make: chromium did not install at $(CHROMIUM)" >&2; exit 1; }

## docs: the documentation site into site/, failing on any warning (a quoted name gone, a broken link, ...)
docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict  # (the variable silences a banner about Material's future)

## docs-serve: the site on http://127.0.0.1:8000, rebuilt as you edit
docs-serve: $(VENV)/.installed-docs
	$(BIN)/mkdocs serve -a 127.0.0.1:8000

## docs-sync: each page's copy of its examples and sessions (after its <!-- example: ... --> marker) written
## afresh from docs_src/; the build fails while a copy differs from its file
docs-sync: $(VENV)/.installed-docs
	$(BIN)/python docs/hooks.py sync

## diagrams: docs/img/*.dot drawn as SVG with Graphviz's dot (apt-get install graphviz); the build checks they match
diagrams: $(VENV)/.installed-docs
	$(BIN)/python docs/hooks.py diagrams

## charts: the benchmarks page's charts, from benchmarks/results/latest.json (made by benchmarks/compare.py)
charts: $(VENV)/.installed-docs
	$(BIN)/python benchmarks/charts.py

## load: locust, headless, 30 s, against workers and a Redis it starts itself (see loadtest/)
load: $(VENV)/.installed-load
	$(BIN)/locust -f loadtest --headless -u 50 -r 50 -t 30s --csv loadtest-out

## bench: yotaq next to rq, huey, dramatiq, celery and arq, each at its defaults and at its documented faster
## setting, and a bare batch worker as the yardstick; every one with hiredis (~80 min; BENCH_ARGS="--tasks 2000
## --runs 1" for ~15 min). The table goes to stdout, the numbers to benchmarks/results/latest.json (benchmarks/README.md)
BENCH_VENV := .venv-bench
# The peers only, from pyproject.toml's bench extra: yotaq itself cannot share their venv (its redis-py is newer
# than dramatiq and arq allow); the drivers of the peers import nothing of it.
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["bench"]))' > $(BENCH_VENV)/requirements.txt
	$(BENCH_VENV)/bin/python -m pip install --quiet -r $(BENCH_VENV)/requirements.txt
	touch $@

bench: $(VENV)/.installed-embedded,hiredis $(BENCH_VENV)/.installed
	$(BIN)/python benchmarks/compare.py $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict yotaq

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info site
