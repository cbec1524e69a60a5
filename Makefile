# Merito developer commands. CI runs `make test` (see .ci/run); so do you.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
JS := tests/interop/js
BROWSER_JS := tests/browser/js
CHROMIUM ?= /usr/bin/chromium
WEB := src/merito/web
CHAIN := tests/chain

.DEFAULT_GOAL := help
.PHONY: help demo test check lint typecheck layers unit services bench clean chromium browser messages fuzz audit

help: ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

$(JS)/node_modules/.installed: $(JS)/package-lock.json
	@if command -v npm >/dev/null; then cd $(JS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: interop tests with Digital Bazaar's JS stack will be skipped"; fi

$(CHAIN)/node_modules/.installed: $(CHAIN)/package-lock.json
	@if command -v npm >/dev/null; then cd $(CHAIN) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the Ethereum anchor tests on a Hardhat node will be skipped"; fi

$(BROWSER_JS)/node_modules/.installed: $(BROWSER_JS)/package-lock.json
	@if command -v npm >/dev/null; then cd $(BROWSER_JS) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else echo "npm not found: the browser tests' accessibility checks (axe-core) will be skipped"; fi

chromium: ## install Debian's Chromium for the browser tests (Playwright never downloads one)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }; \
	elif command -v sudo >/dev/null; then sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "$(CHROMIUM) not found and not root: the browser tests will be skipped"; fi

browser: $(BIN)/.installed $(BROWSER_JS)/node_modules/.installed chromium ## the browser tests only (screenshots in test-output/screenshots)
	$(BIN)/pytest -q tests/browser

messages: $(BIN)/.installed ## extract the pages' messages and update the catalogs (then translate the .po files)
	cd $(WEB) && ../../../$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext --no-location --sort-output \
		--project=Merito --copyright-holder="Merito contributors" -o locale/messages.pot .
	cd $(WEB) && ../../../$(BIN)/pybabel update -i locale/messages.pot -d locale -D messages --no-fuzzy-matching --ignore-obsolete

demo: $(BIN)/.installed ## install and run the Merito demo
	$(BIN)/merito demo

lint: $(BIN)/.installed ## ruff lint + format check
	$(BIN)/ruff check src tests benchmarks fuzz
	$(BIN)/ruff format --check src tests benchmarks fuzz

typecheck: $(BIN)/.installed ## mypy (strict on the pure core)
	$(BIN)/mypy

layers: $(BIN)/.installed ## import-linter: layers import only downward
	$(BIN)/lint-imports

# The suite runs on both cores (pytest-xdist, one file per worker: module fixtures stay whole).
# schemathesis makes one test per API operation only when collected without xdist (under xdist
# they collapse into one item that checks nothing), so that module runs in its own pytest beside
# the others (much of the suite waits on PostgreSQL and Chromium); its output follows theirs.
SERIAL_TESTS := tests/functional/api/test_api_schemathesis.py
SERIAL_LOG := test-output/schemathesis.log
PYTEST = mkdir -p test-output; \
	$(BIN)/pytest -q -p no:cacheprovider $(SERIAL_TESTS) > $(SERIAL_LOG) 2>&1 & serial=$$!; \
	$(BIN)/pytest -q -n 2 --dist loadfile --ignore=$(SERIAL_TESTS); rest=$$?; \
	wait $$serial; api=$$?; echo "== $(SERIAL_TESTS)"; cat $(SERIAL_LOG); \
	test $$rest -eq 0 -a $$api -eq 0

unit: $(BIN)/.installed ## pytest only
	$(PYTEST)

check: lint typecheck layers ## all static gates

services: ## start the services the tests use (PostgreSQL), installing them if needed
	@scripts/ensure-services.sh

test: $(BIN)/.installed $(JS)/node_modules/.installed $(CHAIN)/node_modules/.installed $(BROWSER_JS)/node_modules/.installed chromium services check ## install everything and run every gate and test
	$(PYTEST)

bench: $(BIN)/.installed ## run the benchmarks (numbers, not pass/fail)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

fuzz: $(BIN)/.installed ## fuzz the verifier and every importer with atheris, FUZZ_SECONDS (60) each
	@for t in verify verify_jwt ob2 blockcerts image png csv; do echo "== fuzz $$t"; \
		$(BIN)/python fuzz/run.py $$t -max_total_time=$${FUZZ_SECONDS:-60} || exit 1; done

audit: $(BIN)/.installed ## pip-audit the installed dependencies (needs PyPI's vulnerability API)
	$(BIN)/python -m pip install -q --disable-pip-version-check pip-audit
	$(BIN)/pip-audit --strict --progress-spinner off

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(JS)/node_modules $(CHAIN)/node_modules $(BROWSER_JS)/node_modules test-output
