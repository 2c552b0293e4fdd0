# logistis: `make run` for a local collector, `make test` for the suite.
# A custom image repository or build arguments go in .local/Makefile (see README).
-include .local/Makefile

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
IMAGE_REPO ?= ghcr.io/logistis/logistis
IMAGE_TAG ?= dev
IMAGE := $(IMAGE_REPO):$(IMAGE_TAG)
DOCKER_BUILD_ARGS ?=
DATA_DIR ?= .logistis

.PHONY: install test lint run demo tui bench soak image deploy undeploy clean

install: $(STAMP) ## create .venv and install logistis with its test tools

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP) ## ruff and the import contracts
	$(VENV)/bin/ruff check collector tui tests tools
	$(VENV)/bin/ruff format --check collector tui tests tools
	$(VENV)/bin/lint-imports

test: lint ## the whole suite (well under five minutes)
	$(PY) -m pytest -q

run: $(STAMP) ## a local collector on SQLite in $(DATA_DIR), self-signed TLS for localhost
	$(VENV)/bin/logistis-collector --data-dir $(DATA_DIR)

demo: $(STAMP) ## a local collector fed with realistic traffic, and the TUI on it
	$(PY) tools/demo.py

bench: $(STAMP) ## the benchmark suite; results in BENCHMARKS.md
	$(PY) tools/bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
