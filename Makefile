# cookiecutter-mlops-stack: `make demo` bakes and runs the default project, `make test` tests the template.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The one pinned dependency set: the generated project's lock file, shared by the template's tests.
LOCK := {{cookiecutter.project_slug}}/requirements.lock
# The same set plus pyspark: the template's tests also run the offline_store=spark bake.
TEST_LOCK := {{cookiecutter.project_slug}}/requirements-spark.lock
DEMO_DIR := build/demo
BAKE_DIR := build/bake
# The demo needs cookiecutter only: a small virtualenv, versions from the same lock file. The baked
# project then installs the stack once, into its own .venv.
TOOLS := build/tools
export UV_COMPILE_BYTECODE := 1
export NO_MKDOCS_2_WARNING := 1

##@ Main

.PHONY: demo
demo: $(TOOLS)/.installed ## Bake the default project into build/demo and run its whole job
	rm -rf $(DEMO_DIR)
	$(TOOLS)/bin/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(MAKE) -C $(DEMO_DIR)/fraud-detection demo

.PHONY: bake
bake: $(TOOLS)/.installed ## Bake into build/bake: menus, or no questions with ARGS="online_store=redis ci=none"
	$(TOOLS)/bin/python scripts/bake.py $(BAKE_DIR) $(ARGS)

.PHONY: test
test: lint ## Run the template's whole test suite (bakes, hooks, baked project's own checks, docs)
	$(BIN)/pytest

##@ Development

.PHONY: setup
setup: $(VENV)/.installed ## Create .venv with the pinned stack (from the template's lock file)

$(TOOLS)/.installed: $(LOCK)
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "$$(grep -E '^uv==' '$(LOCK)')"
	$(TOOLS)/bin/uv pip install --quiet --python $(TOOLS)/bin/python --constraint '$(LOCK)' cookiecutter
	touch $@

$(VENV)/.installed: $(LOCK) $(TEST_LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -E '^uv==' '$(LOCK)')"
	$(BIN)/uv pip sync --python $(BIN)/python '$(TEST_LOCK)'
	touch $@

.PHONY: lint
lint: $(VENV)/.installed ## Lint and check formatting of the hooks, tests and docs hooks
	$(BIN)/ruff check hooks scripts tests docs
	$(BIN)/ruff format --check hooks scripts tests docs

.PHONY: test-fast
test-fast: $(VENV)/.installed ## Quick loop: hooks and bakes only (skips the baked project's own suite and docs)
	$(BIN)/pytest -m "not slow"

.PHONY: docs
docs: $(VENV)/.installed ## Build the documentation site into build/site (strict)
	$(BIN)/mkdocs build --strict --site-dir build/site

.PHONY: lock
lock: $(VENV)/.installed ## Re-resolve both lock files (CPU, GPU) through a baked project's own `make lock`
	rm -rf build/lock && $(BIN)/cookiecutter --no-input --output-dir build/lock .
	$(MAKE) -C build/lock/fraud-detection lock VENV=$(CURDIR)/$(VENV)
	cp build/lock/fraud-detection/requirements.lock build/lock/fraud-detection/requirements-gpu.lock \
		'{{cookiecutter.project_slug}}/'

.PHONY: clean
clean: ## Remove build output and caches (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} \
		/^##@/ {printf "\n%s\n", substr($$0, 5)} \
		/^[a-zA-Z0-9_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
