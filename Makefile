# cookiecutter-mlops-stack: `make demo` bakes and runs the default project, `make test` tests the template.
.DEFAULT_GOAL := help
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The one pinned dependency set: the generated project's lock file, shared by the template's tests.
LOCK := {{cookiecutter.project_slug}}/requirements.lock
DEMO_DIR := build/demo
export UV_COMPILE_BYTECODE := 1
export NO_MKDOCS_2_WARNING := 1

##@ Main

.PHONY: demo
demo: $(VENV)/.installed ## Bake the default project into build/demo and run its whole job
	rm -rf $(DEMO_DIR)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	$(MAKE) -C $(DEMO_DIR)/fraud-detection demo

.PHONY: test
test: lint ## Run the template's whole test suite (bakes, hooks, baked project's own checks, docs)
	$(BIN)/pytest

##@ Development

.PHONY: setup
setup: $(VENV)/.installed ## Create .venv with the pinned stack (from the template's lock file)

$(VENV)/.installed: $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep -E '^uv==' '$(LOCK)')"
	$(BIN)/uv pip install --python $(BIN)/python -r '$(LOCK)'
	touch $@

.PHONY: lint
lint: $(VENV)/.installed ## Lint and check formatting of the hooks, tests and docs hooks
	$(BIN)/ruff check hooks tests docs
	$(BIN)/ruff format --check hooks tests docs

.PHONY: test-fast
test-fast: $(VENV)/.installed ## Quick loop: hooks and bakes only (skips the baked project's own suite and docs)
	$(BIN)/pytest -m "not slow"

.PHONY: docs
docs: $(VENV)/.installed ## Build the documentation site into build/site (strict)
	$(BIN)/mkdocs build --strict --site-dir build/site

.PHONY: lock
lock: $(VENV)/.installed ## Re-resolve the lock file through a baked project's own `make lock`
	rm -rf build/lock && $(BIN)/cookiecutter --no-input --output-dir build/lock .
	$(MAKE) -C build/lock/fraud-detection lock VENV=$(CURDIR)/$(VENV)
	cp build/lock/fraud-detection/requirements.lock '$(LOCK)'

.PHONY: clean
clean: ## Remove build output and caches (keeps .venv)
	rm -rf build .pytest_cache .ruff_cache

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} \
		/^##@/ {printf "\n%s\n", substr($$0, 5)} \
		/^[a-zA-Z0-9_-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
