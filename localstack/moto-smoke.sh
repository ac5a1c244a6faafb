#!/usr/bin/env bash
# The part of the LocalStack path that runs without Docker: starts moto_server on a free port,
# creates the DynamoDB tables and SQS queues as the synthesized templates define them, and drives
# one order through the real handlers (REST create, order worker with the paper broker, REST get).
# Exits non-zero on failure. Needs moto_server (moto 5) and node; no AWS account, no Docker.
#
#   localstack/moto-smoke.sh                       synthesizes the app in-process (stage `smoke`)
#   localstack/moto-smoke.sh --templates cdk.out   uses templates `npx cdk synth` wrote
set -euo pipefail
cd "$(dirname "$0")/.."
command -v moto_server >/dev/null || { echo "moto-smoke: moto_server is not on PATH (pip install 'moto[server]')" >&2; exit 127; }

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
log=$(mktemp -t moto-smoke.XXXXXX)
moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"' EXIT

# Wait until it answers (or has died), at most 30 s.
deadline=$((SECONDS + 30))
until curl -s -o /dev/null "http://127.0.0.1:$port/moto-api/"; do
  kill -0 "$moto_pid" 2>/dev/null || { echo "moto-smoke: moto_server exited:" >&2; cat "$log" >&2; exit 1; }
  [ "$SECONDS" -lt "$deadline" ] || { echo "moto-smoke: moto_server did not answer in 30 s" >&2; exit 1; }
  sleep 0.2
done

MOTO_ENDPOINT="http://127.0.0.1:$port" npx tsx infra/local/moto-smoke.ts "$@"
