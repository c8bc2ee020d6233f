# Hakiri workspace tasks. `make` lists them; CI runs `make test` (through .ci/run).

.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
# The steps of `make test` depend on each other (sync before lint, ...): keep them in order
# even under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3
TOOLS_UV := $(CURDIR)/.tools/bin/uv
# Resolved once, here: the uv on PATH if it runs (a pyenv shim can exist without a uv behind
# it), else the private copy `make bootstrap` puts in .tools/.
UV := $(shell if uv --version >/dev/null 2>&1; then command -v uv; else echo "$(TOOLS_UV)"; fi)
# Each target that runs a tool syncs first, so `uv run` need not sync again, and must not:
# its implicit sync would install only the default groups and could rewrite uv.lock.
RUN := $(UV) run --no-sync
PYTEST_ARGS ?=

step = @printf '\n==> %s\n' "$(1)"

.PHONY: help bootstrap sync lint typecheck test demo bench build clean

help: ## List the targets
	@echo "Usage: make <target>"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-10s %s\n", $$1, $$2 }' \
		$(MAKEFILE_LIST)

bootstrap: ## Make sure uv is available (PATH, else a private copy in .tools/)
	@if [ "$(UV)" = "$(TOOLS_UV)" ] && ! "$(TOOLS_UV)" --version >/dev/null 2>&1; then \
		echo "uv is not on PATH: installing it into .tools/ (a venv, never the system Python)"; \
		$(PYTHON) -m venv .tools || { \
			echo "error: '$(PYTHON) -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; \
			exit 1; }; \
		.tools/bin/python -m pip install --quiet --disable-pip-version-check uv; \
	fi
	@echo "uv: $(UV) ($$("$(UV)" --version))"

# The bench group (dlt, only the ingest benchmark needs it) stays out of the dev environment.
# Bytecode is compiled at install, as pip does: every `hakiri` subprocess a test starts would
# otherwise compile its dependencies again (where PYTHONDONTWRITEBYTECODE is set).
sync: bootstrap ## Install the locked dev environment (.venv, every dependency group but bench)
	$(call step,uv sync)
	"$(UV)" sync --locked --all-groups --no-group bench --compile-bytecode

lint: sync ## Ruff (lint rules, formatting) and the package boundaries (lint-imports)
	$(call step,ruff check)
	$(RUN) ruff check .
	$(call step,ruff format --check)
	$(RUN) ruff format --check .
	$(call step,lint-imports (package boundaries: docs/architecture.md))
	$(RUN) lint-imports

typecheck: sync ## Mypy, strict, over every member's src/
	$(call step,mypy)
	$(RUN) mypy

# pytest exits 5 when it collects nothing: a suite that ran no test is a failure here.
test: bootstrap sync lint typecheck ## The whole suite CI runs: sync, lint, typecheck, pytest
	$(call step,pytest)
	@rc=0; $(RUN) pytest $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$rc" -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; \
	exit "$$rc"

demo: sync ## Run the end-to-end demo (scripts/demo.py)
	$(RUN) python scripts/demo.py

BENCH_ARGS ?=
bench: bootstrap ## Ingest benchmark vs the floor loop and dlt (1M, 10M rows; BENCH_ARGS=...)
	$(call step,uv sync (with the bench group))
	"$(UV)" sync --locked --all-groups --compile-bytecode
	$(call step,benchmarks/ingest.py)
	$(RUN) python benchmarks/ingest.py $(BENCH_ARGS)

# dist/ is emptied first so it holds exactly this version's artifacts.
build: bootstrap ## Build every member's sdist and wheel into dist/
	rm -rf dist
	"$(UV)" build --all-packages --no-sources -o dist/

# Leaves .venv, .tools and .hakiri (a local context store is user data) alone.
clean: ## Remove build output and tool caches
	rm -rf dist .mypy_cache .ruff_cache .pytest_cache
	find . -name __pycache__ -type d -not -path './.venv/*' -not -path './.tools/*' -prune \
		-exec rm -rf {} +
