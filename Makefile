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
# make bench / make load sizes (see docs/performance.md)
BENCH_REPETITIONS ?= 5
BENCH_ARGS ?=
LOAD_SESSIONS ?= 200
LOAD_TURNS ?= 5
LOAD_ARGS ?=
# make eval-tau: the τ retail tasks with a simulated customer (see docs/observability.md)
TRIALS ?= 4
AGENT_MODEL ?= bedrock
CUSTOMER_MODEL ?= bedrock
TAU_PARALLEL ?= 4
# make test: pytest-xdist workers (3 on this 2-core machine: the deployed system's apply and the emulators
# mostly wait, so a third worker keeps both cores busy; 0 runs in-process)
TEST_WORKERS ?= 3

# The chat site (web/): Node.js >= 20 with npm; packages from web/package-lock.json (npm ci).
WEB := web
WEB_STAMP := $(WEB)/node_modules/.installed
PROTOCOL_TS := $(WEB)/src/protocol.generated.ts
PROTOCOL_SCHEMA = $(BIN)/python -c 'import json; from order_agent.edge.protocol import json_schemas; print(json.dumps(json_schemas(), indent=2, sort_keys=True))'
CHROMIUM ?= chromium

.PHONY: help setup dev test test-deployed lint format db-up db-down db-reset tau-replay eval eval-tau chat layers bench load init plan apply destroy lock clean trace-replay \
	web web-test web-protocol chromium pgbouncer

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/runtime.txt requirements/providers.txt requirements/dev.txt layers/agent/pyproject.toml layers/dev/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "Python >= 3.11 is needed (found $$($(PYTHON) --version)); set PYTHON=..." >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION)
	@# --no-deps: the lock files list every package (see requirements/dev.in). --no-compile: byte-compiling
	@# every installed module took about a minute of setup; Python compiles what is imported, when it is.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-compile -r requirements/dev.txt
	@# the production package (the agent layer) and the development tools beside it (local stack, evals, CLI)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e layers/agent -e layers/dev
	@touch $(STAMP)

setup: $(STAMP) ## create .venv with the pinned dependencies and the order_agent and order_agent_dev packages

dev: setup pgbouncer ## start everything locally: the Terraform system on ministack, PostgreSQL with τ data behind PgBouncer, MLflow, chat site (DEV_STACK=gateway: the project's gateway on moto); Ctrl-C stops it
	@$(BIN)/python scripts/dev.py

lint: setup ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## ruff: fix what can be fixed and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint web-test web chromium pgbouncer ## lint, the chat site's checks, then every test incl. the browser tests, in TEST_WORKERS processes (starts its own PostgreSQL unless DATABASE_URL is set)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope --durations=25

test-deployed: setup pgbouncer ## only the deployed-system tests of make test: the Terraform system on ministack, conversations through it
	$(BIN)/pytest -m deployed tests/deployed

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	@command -v npm >/dev/null || { echo "the chat site needs Node.js >= 20 with npm" >&2; exit 1; }
	cd $(WEB) && npm ci --no-audit --no-fund
	@touch $(WEB_STAMP)

web: $(WEB_STAMP) ## build the chat site into web/dist (type check, then Vite: hashed files under assets/)
	cd $(WEB) && npm run build --silent

web-protocol: setup $(WEB_STAMP) ## regenerate the chat site's protocol types from the server's pydantic models
	$(PROTOCOL_SCHEMA) | node $(WEB)/scripts/gen-protocol.mjs > $(PROTOCOL_TS)

web-test: setup $(WEB_STAMP) ## the chat site's checks: protocol types up to date, eslint, tsc, Vitest
	@$(PROTOCOL_SCHEMA) | node $(WEB)/scripts/gen-protocol.mjs | diff -u $(PROTOCOL_TS) - \
		|| { echo "$(PROTOCOL_TS) is out of date with order_agent/edge/protocol.py: run make web-protocol" >&2; exit 1; }
	cd $(WEB) && npm run --silent lint && npm run --silent typecheck && npm test --silent

chromium: ## install the Debian chromium package for the browser tests when it is missing (Playwright drives it)
	@command -v $(CHROMIUM) >/dev/null || { \
		echo "installing chromium (apt-get) for the browser tests ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v $(CHROMIUM) >/dev/null || { echo "chromium could not be installed" >&2; exit 1; }

# Debian puts pgbouncer in /usr/sbin, which is not on every user's PATH.
HAVE_PGBOUNCER = { command -v pgbouncer || [ -x /usr/sbin/pgbouncer ]; } >/dev/null
pgbouncer: ## install the Debian pgbouncer package when it is missing (the stand-in for RDS Proxy in tests and make dev)
	@$(HAVE_PGBOUNCER) || { \
		echo "installing pgbouncer (apt-get): the connection pooler the tests put where RDS Proxy is ..."; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq pgbouncer >/dev/null; }
	@$(HAVE_PGBOUNCER) || { echo "pgbouncer could not be installed" >&2; exit 1; }

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

eval-tau: setup ## all 114 τ retail tasks x TRIALS, a model playing the customer: pass^k, tokens, dollars (AGENT_MODEL, CUSTOMER_MODEL: PROVIDER[:MODEL]; EVAL_ARGS)
	@DATABASE_URL="$(DB_URL)" $(BIN)/order-agent eval tau-sim --trials $(TRIALS) --agent-model "$(AGENT_MODEL)" \
		--customer-model "$(CUSTOMER_MODEL)" --parallel $(TAU_PARALLEL) --output build/tau-sim/latest.json $(EVAL_ARGS)

chat: setup ## chat with the agent in the terminal (local PostgreSQL + emulator; MODEL_PROVIDER, default offline)
	@$(BIN)/python scripts/local_chat.py

layers: setup ## build the Lambda layers and function packages into build/lambda (prints sizes; fails over budget)
	$(BIN)/python scripts/build_layers.py --arch $(LAYER_ARCH) --python $(LAYER_PYTHON)

bench: setup ## measure overhead per turn, round trips, TTFT, cold start, layer sizes, tool latency (build/bench/latest.json)
	$(BIN)/python scripts/bench.py --repetitions $(BENCH_REPETITIONS) $(BENCH_ARGS)

load: setup ## LOAD_SESSIONS concurrent WebSocket conversations x LOAD_TURNS; checks exactly-once frames and writes
	$(BIN)/python scripts/load.py --sessions $(LOAD_SESSIONS) --turns $(LOAD_TURNS) $(LOAD_ARGS)

# Remote state (docs/deployment.md): terraform/envs/$(ENV)/backend.hcl names the S3 bucket, key and KMS key
# that terraform/bootstrap created; INIT_ARGS=-migrate-state moves an existing local state into it.
BACKEND_CONFIG ?= backend.hcl
INIT_ARGS ?=
TF_PLATFORMS ?= linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64
HAVE_BACKEND = [ -f $(TF_DIR)/$(BACKEND_CONFIG) ] || { echo "$(TF_DIR)/$(BACKEND_CONFIG) is missing: create the state bucket with terraform/bootstrap and write its backend_configs output there (see $(TF_DIR)/backend.hcl.example)" >&2; exit 1; }

init: ## terraform init for ENV with its S3 backend (terraform/envs/$(ENV)/backend.hcl; INIT_ARGS=-migrate-state to move local state)
	@$(HAVE_BACKEND)
	cd $(TF_DIR) && terraform init -input=false -backend-config=$(BACKEND_CONFIG) $(INIT_ARGS)

plan: layers web init ## terraform plan for ENV (dev or prod; builds the chat site for site_dir); needs AWS credentials, terraform/envs/$(ENV)/terraform.tfvars and backend.hcl
	cd $(TF_DIR) && terraform plan -input=false -out=tfplan

apply: init ## apply the plan made by `make plan ENV=...` (state and lock in the S3 backend)
	cd $(TF_DIR) && terraform apply -input=false tfplan

destroy: init ## destroy everything of ENV (prod has deletion protection: turn it off in its tfvars first)
	cd $(TF_DIR) && terraform destroy -input=false

trace-replay: ## move the traces the forwarder could not deliver (ENV's dead-letter queue) back to the trace queue; needs AWS credentials
	@dlq=$$(cd $(TF_DIR) && terraform output -raw trace_dead_letter_queue_arn) && [ -n "$$dlq" ] && \
		aws sqs start-message-move-task --source-arn "$$dlq" && \
		echo "moving $$dlq back to its source queue; progress: aws sqs list-message-move-tasks --source-arn $$dlq"

lock: ## record provider checksums for every platform in TF_PLATFORMS in each root's .terraform.lock.hcl (needs the registry)
	for dir in terraform/envs/dev terraform/envs/prod terraform/envs/local terraform/bootstrap; do \
		(cd $$dir && terraform providers lock $(foreach p,$(TF_PLATFORMS),-platform=$(p))) || exit 1; done

clean: ## remove the virtualenv, caches and the chat site's build (not the local database)
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts $(WEB)/node_modules $(WEB)/dist
