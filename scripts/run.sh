#!/usr/bin/env bash
# Starts the action server in the background and the Rasa server (or shell) in the foreground.
# Called by `make run` / `make chat`, which export the settings.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-server}"
rasa=.venv/bin/rasa
log_dir=.data/logs
mkdir -p "$log_dir"

$rasa run actions --port "$ACTION_PORT" >"$log_dir/actions.log" 2>&1 &
actions_pid=$!
simulator_pid=
console_pid=
trap 'kill $actions_pid $simulator_pid $console_pid 2>/dev/null || true' EXIT INT TERM

# The phone simulator (WhatsApp/SMS in a browser, talking to the bot through the signed Twilio
# webhook); not needed by `make chat`.
simulator_port="${SIMULATOR_PORT:-5080}"
if [ "$mode" != shell ]; then
  .venv/bin/python -m lpse_assist.simulator --port "$simulator_port" >"$log_dir/simulator.log" 2>&1 &
  simulator_pid=$!
fi

# The helpdesk console (escalated conversations, human handover); accounts: make agent NAME=...
console_port="${CONSOLE_PORT:-5090}"
if [ "$mode" != shell ]; then
  .venv/bin/python -m lpse_assist.console --port "$console_port" >"$log_dir/console.log" 2>&1 &
  console_pid=$!
fi

for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$ACTION_PORT/health" >/dev/null 2>&1 && break
  kill -0 $actions_pid 2>/dev/null || { echo "Action server failed, see $log_dir/actions.log"; exit 1; }
  sleep 1
done

if [ "$mode" = shell ]; then
  $rasa shell --model models/lpse-assist.tar.gz --endpoints endpoints.yml
  exit
fi

cat <<MSG

LPSE Assist is starting on http://127.0.0.1:$RASA_PORT (action server on :$ACTION_PORT).
Talk to it once "Rasa server is up and running" appears:
  curl -s -XPOST http://127.0.0.1:$RASA_PORT/webhooks/rest/webhook \\
       -H 'Content-Type: application/json' -d '{"sender": "me", "message": "halo"}'
  make chat                     (a conversation in a terminal)
Twilio webhook (WhatsApp and SMS): POST http://127.0.0.1:$RASA_PORT/webhooks/twilio/webhook
Phone simulator (WhatsApp and SMS in a browser): http://127.0.0.1:$simulator_port/
Helpdesk console: http://127.0.0.1:$console_port/  (accounts: make agent NAME=...)
Stop with Ctrl+C.

MSG
# TensorFlow's thread pools at one thread each when serving (.env.example).
TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}" \
TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}" \
$rasa run --model models/lpse-assist.tar.gz --endpoints endpoints.yml --credentials credentials.yml \
  --port "$RASA_PORT" --interface "${RASA_INTERFACE:-127.0.0.1}"
