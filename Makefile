# Every command of the README. `make demo`/`make synth` and `make test` set everything up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
ENV ?= dev
# The pinned CDK CLI and Node.js 22 from package.json come first on PATH (the machine's Node 20 is end-of-life).
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
CDK := cdk --no-notices

.PHONY: help setup demo synth test lint typecheck cfn-lint unit openapi bench-prepare bench-hostile bench-api deploy diff destroy clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.installed node_modules/.installed ## Create .venv and install the pinned Python and npm tooling

$(VENV)/.installed: requirements.txt requirements-lambda.txt requirements-dev.txt pyproject.toml
	@echo "setup: creating $(VENV) and installing the pinned Python packages (a few minutes the first time) ..."
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	@echo "setup: installing the pinned CDK CLI and Node.js 22 from package-lock.json (about a minute) ..."
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: setup ## Run the text-to-SQL example end to end offline (simulated AWS; no account, no Docker)
	nova-pipeline run-local --input examples/sft-text-to-sql-nova-micro.json

synth: setup ## Synthesize every environment of cdk.json into cdk.out/ (offline, no Docker)
	time $(CDK) synth --quiet

lint: setup ## ruff lint and format check
	ruff check .
	ruff format --check .

typecheck: setup ## mypy (strict) on the domain package
	mypy

cfn-lint: synth ## cfn-lint on every synthesized template
	cfn-lint cdk.out/*.template.json

unit: setup ## pytest: unit, handler, infra (CDK assertions + cdk-nag) and workflow tests
	pytest

test: lint typecheck cfn-lint unit ## Everything CI runs

openapi: setup ## Regenerate docs/openapi.json from the inference API's route table and models
	$(PY) -c 'import json, sys; sys.path[:0] = ["lambdas"]; from nova_pipeline.inference.openapi import document; \
	open("docs/openapi.json", "w").write(json.dumps(document(), indent=2) + "\n")'

bench-api: setup ## Inference handler overhead and cold start against a boto3-only baseline
	$(PY) benchmarks/api_benchmark.py

bench-hostile: setup ## Hostile input files (huge line, identical lines, gzip bomb) against ordinary input of the same size
	$(PY) benchmarks/hostile_input_benchmark.py

bench-prepare: setup ## Data preparation benchmark (100k, 1M and 2M rows; installs pandas for the naive baseline)
	$(PY) -m pip install --quiet --disable-pip-version-check -r benchmarks/requirements.txt
	$(PY) benchmarks/prepare_benchmark.py --extra-rows 2000000

deploy: setup ## Deploy one environment: make deploy ENV=prod
	$(CDK) deploy -c env=$(ENV) --all --require-approval broadening

diff: setup ## Show what a deploy would change: make diff ENV=prod
	$(CDK) diff -c env=$(ENV) 'nova-$(ENV)-*'

destroy: setup ## Delete one environment's stacks (prod keeps its buckets and key)
	$(CDK) destroy -c env=$(ENV) --all

clean: ## Remove build outputs (keeps .venv and node_modules)
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
