# Prism: every target sets up what it needs (venvs, packages, server binaries) on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON  ?= $(shell tools/bootstrap/find-python)
VENV    := .venv
TOOLS   := .venv-tools
BIN     := $(VENV)/bin
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

ITEMS ?= 300

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml shared/requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

$(TOOLS)/.installed: requirements-tools.txt
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install -q --upgrade pip
	$(TOOLS)/bin/python -m pip install -q -r requirements-tools.txt
	@touch $@

.PHONY: venv servers
venv: $(VENV)/.installed ## create the project venv
servers: ## install the MariaDB and Redis binaries (apt, when root)
	@tools/bootstrap/ensure-servers

.PHONY: demo
demo: venv servers ## run the whole local pipeline end to end and print a report (KEEP=1 leaves the stack up)
	$(BIN)/prism demo --items $(ITEMS) $(if $(KEEP),--keep-stack,)

.PHONY: up down status run api
up: venv servers ## start the local stack (moto, MariaDB, Redis, osmem) and provision template.yaml into it
	$(BIN)/prism stack up
down: venv ## stop the local stack
	$(BIN)/prism stack down
status: venv ## show the local stack's servers and resources
	$(BIN)/prism stack status
run: venv ## run every event source of template.yaml against the local stack (Ctrl-C stops)
	$(BIN)/prism run
api: venv ## serve the API on 127.0.0.1:3000 (start-api) with the event sources beside it (Ctrl-C stops)
	$(BIN)/prism start-api

.PHONY: test unit integration e2e soak
test: lint ## every check and every test: lint, unit, integration, end-to-end
	$(BIN)/pytest -q

unit: venv ## unit tests only (no network)
	$(BIN)/pytest -q tests/unit

integration: venv servers ## integration tests against the real local servers
	$(BIN)/pytest -q tests/integration

e2e: venv servers ## end-to-end tests through the whole pipeline
	$(BIN)/pytest -q tests/e2e

soak: venv servers ## the relational convergence property at 10,000 examples (make test runs 200)
	PRISM_RELATIONAL_EXAMPLES=10000 $(BIN)/pytest -q tests/integration/test_relational_convergence.py

.PHONY: bench
bench: venv ## benchmarks (figures as ratios against a baseline from the same run; results in bench/results/)
	$(BIN)/python -m bench.fanout_publish
	$(BIN)/python -m bench.api_get
	$(BIN)/python -m bench.relational_apply
	$(BIN)/python -m bench.lake_apply
	$(BIN)/python -m bench.search_apply

.PHONY: openapi
openapi: venv ## regenerate docs/openapi.json from the API's resolver
	$(BIN)/prism openapi

.PHONY: lint fmt build
lint: venv servers $(TOOLS)/.installed ## ruff, mypy, cfn-lint, sam validate --lint, checkov, sam build
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared tools functions bench
	$(BIN)/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region us-east-1 --template template.yaml
	$(TOOLS)/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml
	@$(MAKE) --no-print-directory build

fmt: venv ## format the code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

build: $(TOOLS)/.installed ## sam build (arm64, python3.13) into .aws-sam/
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || \
	  { echo "make build: sam builds the layer with Python 3.13 (the Lambda runtime); install it (e.g. pyenv install 3.13)"; exit 1; }
	PATH="$(dir $(PYTHON)):$$PATH" $(TOOLS)/bin/sam build --template template.yaml

.PHONY: clean
clean: ## stop the stack and remove venvs, local state and build output
	-@test -x $(BIN)/prism && $(BIN)/prism stack down
	rm -rf $(VENV) $(TOOLS) .local .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
