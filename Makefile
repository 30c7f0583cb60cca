# The front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_VERSION := 25.3
# The local PostgreSQL (embedded server) used by the db-* targets when DATABASE_URL is not set.
LOCAL_PG_DIR ?= .local/postgres
DATASET ?= tau-retail
DB_URL = $${DATABASE_URL:-$$($(BIN)/python scripts/local_postgres.py start --data-dir $(LOCAL_PG_DIR))}

ENV ?= dev
TF_DIR = terraform/envs/$(ENV)
LAYER_ARCH ?= arm64
LAYER_PYTHON ?= 3.13

.PHONY: help setup dev test lint format db-up db-down db-reset tau-replay eval chat layers plan apply destroy clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/runtime.txt requirements/dev.txt layers/agent/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python >= 3.11 is needed (found $$($(PYTHON) --version)); set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	@# --no-deps: the lock files list every package (see requirements/dev.in)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements/dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e layers/agent
	@touch $(STAMP)

setup: $(STAMP) ## create .venv with the pinned dependencies and the order_agent package

dev: setup ## start everything locally (PostgreSQL with τ data, AWS emulator, WebSocket gateway); Ctrl-C stops it
	@$(BIN)/python scripts/dev.py

lint: setup ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## ruff: fix what can be fixed and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint ## lint, then every test (starts its own PostgreSQL unless DATABASE_URL is set)
	$(BIN)/pytest

db-up: setup ## start the local PostgreSQL (kept running) and print its DATABASE_URL
	@$(BIN)/python scripts/local_postgres.py start --data-dir $(LOCAL_PG_DIR)

db-down: setup ## stop the local PostgreSQL
	@$(BIN)/python scripts/local_postgres.py stop --data-dir $(LOCAL_PG_DIR)

db-reset: setup ## drop, migrate and load DATASET (tau-retail or demo) into DATABASE_URL or the local server
	@DATABASE_URL="$(DB_URL)" $(BIN)/order-agent db reset --dataset $(DATASET)

tau-replay: setup ## replay every τ-bench retail task against the reference tools (in a scratch database)
	@DATABASE_URL="$(DB_URL)" $(BIN)/order-agent eval tau-replay

eval: setup ## the scenario suite, scored like τ-bench (EVAL_ARGS, e.g. --ci, --trials 3; MODEL_PROVIDER=bedrock for Claude)
	@DATABASE_URL="$(DB_URL)" $(BIN)/order-agent eval scenarios $(EVAL_ARGS)

chat: setup ## chat with the agent in the terminal (local PostgreSQL + emulator; MODEL_PROVIDER, default offline)
	@$(BIN)/python scripts/local_chat.py

layers: setup ## build the Lambda layers and function packages into build/lambda (prints sizes; fails over budget)
	$(BIN)/python scripts/build_layers.py --arch $(LAYER_ARCH) --python $(LAYER_PYTHON)

plan: layers ## terraform plan for ENV (dev or prod); needs AWS credentials and terraform/envs/$(ENV)/terraform.tfvars
	cd $(TF_DIR) && terraform init -input=false && terraform plan -input=false -out=tfplan

apply: ## apply the plan made by `make plan ENV=...`
	cd $(TF_DIR) && terraform apply -input=false tfplan

destroy: ## destroy everything of ENV (prod has deletion protection: turn it off in its tfvars first)
	cd $(TF_DIR) && terraform destroy -input=false

clean: ## remove the virtualenv and caches (not the local database)
	rm -rf $(VENV) .pytest_cache .ruff_cache
