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
export PYTHONPATH := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 2

TRAIN_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) \
                $(shell find lpse_assist/nlu -name '*.py' -o -name '*.yml' 2>/dev/null)
PY_SOURCES   := actions lpse_assist tests scripts bench

.PHONY: help setup train run chat actions validate lint pytest story-test test clean

help:
	@echo "make run    set up, train when needed, start the assistant"
	@echo "make chat   talk to the assistant in this terminal"
	@echo "make test   validate data, lint, unit and end-to-end tests, test stories"

$(STAMP): requirements.txt requirements-dev.txt requirements.lock
	@set -e; python=$$(scripts/find-python.sh); \
	  [ -x $(PY) ] || "$$python" -m venv $(VENV); \
	  $(PY) -m pip install --quiet --upgrade "pip<25"; \
	  $(PY) -m pip install --quiet -r requirements-dev.txt -c requirements.lock
	@touch $@

setup: $(STAMP)

# Trains only when data, domain, config or our NLU components changed since the last model.
# flock: one training at a time on this machine (it takes both cores).
$(MODEL): $(STAMP) $(TRAIN_INPUTS)
	@mkdir -p models
	flock /tmp/lpse-assist-train.lock $(RASA) train --fixed-model-name lpse-assist --out models
	@touch $@

train: $(MODEL)

run: $(MODEL)
	@mkdir -p .data
	@scripts/run.sh

chat: $(MODEL)
	@mkdir -p .data
	@scripts/run.sh shell

actions: $(STAMP)
	$(RASA) run actions --port $(ACTION_PORT)

validate: $(STAMP)
	$(PY) scripts/validate.py

lint: $(STAMP)
	$(VENV)/bin/ruff check --output-format concise $(PY_SOURCES)
	$(VENV)/bin/mypy

pytest: $(MODEL)
	$(VENV)/bin/pytest -q

story-test: $(MODEL)
	$(RASA) test core --model $(MODEL) --stories tests/stories --fail-on-prediction-errors \
	  --out results/core

test: validate lint pytest story-test

clean:
	rm -rf models results .pytest_cache .mypy_cache .ruff_cache
