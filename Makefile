# LPSE Assist. `make run` to talk to the assistant, `make test` to check everything.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   := .venv
PY     := $(VENV)/bin/python
RASA   := $(VENV)/bin/rasa
MODEL  := models/lpse-assist.tar.gz
STAMP  := $(VENV)/.installed

# Local settings: an optional .env (copy .env.example) overrides these embedded defaults.
-include .env
RASA_PORT              ?= 5005
ACTION_PORT            ?= 5055
ACTION_ENDPOINT_URL    ?= http://127.0.0.1:$(ACTION_PORT)/webhook
TRACKER_DB             ?= $(CURDIR)/.data/tracker.db
# Local development values only: real ones come from .env or the environment.
TWILIO_ACCOUNT_SID     ?= ACdev00000000000000000000000000000
TWILIO_AUTH_TOKEN      ?= dev-auth-token-not-secret
TWILIO_SMS_NUMBER      ?= +15005550006
TWILIO_WHATSAPP_NUMBER ?= whatsapp:+14155238886
TWILIO_WEBHOOK_URL     ?=
TWILIO_API_BASE_URL    ?=
export RASA_PORT ACTION_PORT ACTION_ENDPOINT_URL TRACKER_DB TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN \
       TWILIO_SMS_NUMBER TWILIO_WHATSAPP_NUMBER TWILIO_WEBHOOK_URL TWILIO_API_BASE_URL
# Government data, and many servers have no internet: Rasa never phones home.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

TRAIN_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) \
                $(shell find lpse_assist/nlu -name '*.py' -o -name '*.yml' 2>/dev/null)
PY_SOURCES   := actions lpse_assist tests scripts bench

.PHONY: help setup train run chat actions validate lint pytest story-test test clean

# Every target a person runs has a one-line help after `##` on its rule line; this lists them.
help: ## list the targets, one line each
	@grep -E '^[a-zA-Z_-]+:.*## ' $(firstword $(MAKEFILE_LIST)) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt requirements.lock pyproject.toml
	@set -e; python=$$(scripts/find-python.sh); \
	  [ -x $(PY) ] || "$$python" -m venv $(VENV); \
	  $(PY) -m pip install --quiet --upgrade "pip<25"; \
	  $(PY) -m pip install --quiet -r requirements-dev.txt -c requirements.lock; \
	  $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

setup: $(STAMP) ## create .venv, install the pinned dependencies and this project (editable)

# Trains only when data, domain, config, our NLU components or the runtime packages changed
# since the last model; the venv is order-only, so reinstalling the project (a pyproject.toml
# change) or the dev tools does not retrain.
# flock: one training at a time on this machine (it takes both cores).
$(MODEL): $(TRAIN_INPUTS) requirements.txt requirements.lock | $(STAMP)
	@mkdir -p models
	flock /tmp/lpse-assist-train.lock $(RASA) train --fixed-model-name lpse-assist --out models
	@touch $@

train: $(MODEL) ## train the model when data, domain, config or NLU components changed

run: $(MODEL) ## set up, train when needed, start the assistant and the phone simulator
	@mkdir -p .data
	@scripts/run.sh

chat: $(MODEL) ## talk to the assistant in this terminal
	@mkdir -p .data
	@scripts/run.sh shell

actions: $(STAMP) ## start the action server alone
	$(RASA) run actions --port $(ACTION_PORT)

validate: $(STAMP) ## rasa data validate: data, domain and stories agree (warnings fail)
	$(PY) scripts/validate.py

lint: $(STAMP) ## ruff check, ruff format --check and mypy
	$(VENV)/bin/ruff check --output-format concise $(PY_SOURCES) eval
	$(VENV)/bin/ruff format --check $(PY_SOURCES) eval
	$(VENV)/bin/mypy

pytest: $(MODEL) ## unit, end-to-end and deployment tests
	$(VENV)/bin/pytest -q

story-test: $(MODEL) ## test stories (tests/stories), failing on any prediction error
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors \
	  --out results/core

test: validate lint pytest story-test ## validate data, lint, all tests and test stories

clean: ## remove models, results and tool caches
	rm -rf models results .pytest_cache .mypy_cache .ruff_cache

# NLU evaluation and benchmarks
.PHONY: eval eval-seeds bench-nlu
# NLU evaluation (eval/run.py): Rasa's default pipeline vs ours without the normaliser vs ours
# (+ ablations), 5-fold CV and the held-out files; writes docs/nlu-report.md. Trains 54 models,
# two pipelines at a time (DIET trains on about one core), behind the training lock; one to
# three hours on 2 cores, depending on the machine. ARGS="--only rasa-default ours ..." for
# fewer pipelines.
eval: $(STAMP) ## NLU evaluation, ours vs Rasa's default (hours): docs/nlu-report.md
	flock /tmp/lpse-assist-train.lock $(PY) -m eval.run --ablations --jobs 2 $(ARGS)

# Seed check (eval/seeds.py): ours and Rasa's default retrained on all data with DIET seeds
# 1-3, scored on the headline sets; prints whether ours wins in every pairing of seeds.
# About 15-20 minutes on 2 cores (the default takes 6-8 minutes per training).
eval-seeds: $(STAMP) ## retrain both pipelines with DIET seeds 1-3 and compare (15-20 min)
	flock /tmp/lpse-assist-train.lock $(PY) -m eval.seeds --jobs 2 $(ARGS)

# Full `rasa train` wall time (cache off) and parse p50/p95 on the trained model.
bench-nlu: $(STAMP) ## rasa train wall time and parse p50/p95 on the trained model
	flock /tmp/lpse-assist-train.lock $(PY) bench/nlu_speed.py

# Deployment
# Production profile (PostgreSQL, Redis, replicas, nginx): docs/deployment.md.
.PHONY: bench deploy-test

# Load benchmark of the Twilio webhook, then the long conversation (bench/long_conversation.py);
# loopback only, about 15 minutes: docs/benchmarks.md. The per-sender limit is off (issue 19:
# every message gets its full answer); its own cost: make bench-limit.
bench: $(MODEL) ## load benchmark of the Twilio webhook and the long conversation: docs/benchmarks.md
	$(PY) -m bench.load --sender-limit 0 --out results/bench
	$(PY) -m bench.long_conversation --out results/bench

# Only the deployment tests (also part of `make test`).
deploy-test: $(MODEL) ## only the deployment tests (also part of make test)
	$(VENV)/bin/pytest -q tests/deploy
# Trainers' tools
.PHONY: topic review tickets simulator
# Helpdesk phone that gets new escalation tickets (whatsapp:+62... or +62...); empty: none.
HELPDESK_NOTIFY_NUMBER ?=
TICKET_TIMEZONE        ?= Asia/Jakarta
SIMULATOR_PORT         ?= 5080
export HELPDESK_NOTIFY_NUMBER TICKET_TIMEZONE SIMULATOR_PORT

# make topic NAME=dapodik_login: the files of a new topic, from templates (docs/training.md).
# KIND=qa: a simple question-and-answer topic (the answer only, no "is it solved?").
topic: $(STAMP) ## make topic NAME=x [KIND=qa]: the files of a new topic, from templates
	@test -n "$(NAME)" || { echo "usage: make topic NAME=topic_name [KIND=qa]"; exit 2; }
	$(PY) scripts/new_topic.py "$(NAME)" $(if $(filter qa,$(KIND)),--qa)

# Messages the model was unsure about -> review/review-<time>.yml.
# Options: make review ARGS="--threshold 0.6 --days 7 --format csv"; label, then
# make review ARGS="apply review/review-<time>.yml" adds them to data/nlu.
review: $(STAMP) ## messages the model was unsure about, to label and add to data/nlu
	$(PY) scripts/review.py $(ARGS)

# Escalation tickets: make tickets | make tickets ARGS="show LPSE-20261124-0001"
# | make tickets ARGS="close LPSE-20261124-0001 --note 'dibantu lewat telepon'"
tickets: $(STAMP) ## list, show or close escalation tickets
	$(PY) scripts/tickets.py $(ARGS)

# The phone simulator alone, for a bot that is already running (make run starts it too).
simulator: $(STAMP) ## the phone simulator alone, for a bot that is already running
	$(PY) -m lpse_assist.simulator

# NLU test sets
.PHONY: nlu-sets-table
nlu-sets-table: $(STAMP) ## rewrite the table in tests/nlu/README.md from tests/nlu/sets.yml
	$(PY) -m eval.sets --readme

# Security audit (issue 17)
.PHONY: audit bench-limit
AUDIT_VENV := .venv-audit
# pip-audit lives in its own venv: it needs newer packaging/rich than Rasa 3.6 allows.
$(AUDIT_VENV)/.installed: requirements-audit.txt
	@set -e; python=$$(scripts/find-python.sh); \
	  [ -x $(AUDIT_VENV)/bin/python ] || "$$python" -m venv $(AUDIT_VENV); \
	  $(AUDIT_VENV)/bin/pip install --quiet -r requirements-audit.txt
	@touch $@

# --strict: a package the advisory service cannot look up fails the audit (no false "clean").
# Without PyPI's JSON API (a package-index mirror only): ADVISORY_DB=<checkout of
# pypa/advisory-database> audits offline with scripts/audit_osv.py. docs/security.md.
audit: $(AUDIT_VENV)/.installed ## known vulnerabilities of requirements.lock (pip-audit; needs PyPI)
	@if [ -n "$(ADVISORY_DB)" ]; then \
	  $(AUDIT_VENV)/bin/python scripts/audit_osv.py "$(ADVISORY_DB)" --lock requirements.lock; \
	else \
	  $(AUDIT_VENV)/bin/pip-audit -r requirements.lock --no-deps --disable-pip --strict \
	    --progress-spinner off --desc on $(ARGS); \
	fi

# Cost of the per-sender limit's check (memory and a real redis-server), docs/benchmarks.md.
bench-limit: $(STAMP) ## cost of the per-sender limit per message (memory, Redis): docs/benchmarks.md
	$(PY) -m bench.sender_limit $(ARGS)
# Outage notices
.PHONY: notice
# make notice TEXT="SPSE sedang pemeliharaan sampai 22.00 WIB" [UNTIL="2026-12-05 22:00"]
# | make notice CLEAR=1 | make notice (shows it). UNTIL is local time (TICKET_TIMEZONE);
# without it the notice ends by itself after 6 hours. No retraining, no restart.
# TEXT and UNTIL reach the script exactly as typed ($(value ...), single-quoted for the shell).
notice_arg = $(if $(filter undefined,$(origin $(1))),,$(2) '$(subst ','\'',$(value $(1)))')
notice: $(STAMP) ## publish, show or clear the operator's outage notice (TEXT=, UNTIL=, CLEAR=1)
	@$(PY) scripts/notice.py $(call notice_arg,TEXT,--text) $(call notice_arg,UNTIL,--until) \
	  $(if $(CLEAR),--clear)
# Helpdesk console
.PHONY: agent console
CONSOLE_PORT ?= 5090
export CONSOLE_PORT

# Helpdesk console accounts: make agent NAME=siti (ROLE=admin for an admin); the password is
# asked at a prompt (or read from standard input), never given on the command line.
agent: $(STAMP) ## create a helpdesk console account or reset its password (NAME=..., ROLE=admin)
	@test -n "$(NAME)" || { echo "usage: make agent NAME=name [ROLE=admin]"; exit 2; }
	@$(PY) -m lpse_assist.console agent "$(NAME)" --role "$(or $(ROLE),agent)"

# The helpdesk console alone, for a bot that is already running (make run starts it too).
console: $(STAMP) ## the helpdesk console alone (http://127.0.0.1:5090/)
	$(PY) -m lpse_assist.console
# Per-message cost
.PHONY: bench-long
bench-long: $(MODEL) ## long-conversation benchmark alone (300 messages, one sender; ARGS="--profile")
	$(PY) -m bench.long_conversation --out results/bench $(ARGS)
