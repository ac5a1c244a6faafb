#!/usr/bin/env bash
# Exercises a platform deployed by localstack/deploy.sh: the queue path always (an order sent to
# SQS is consumed by the worker, and an order it can never place ends in the dead-letter queue), the
# REST path when the HTTP API was deployed (LOCALSTACK_PLAN=base or full): /health, an option the
# platform lists, a subscription to it created and listed with the generated API key, and an order
# for it accepted over REST and COMPLETED by the worker (DEAD_LETTER fails the smoke).
# Needs the aws CLI, curl and jq. Untested on the build machine, which has no Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=ap-south-1 AWS_DEFAULT_REGION=ap-south-1
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}
stage=${STAGE:-local}
outputs="localstack/outputs-${stage}.json"
output() { jq -r --arg stack "Ticker-${stage}-$1" --arg key "$2" '.[$stack][$key] // empty' "$outputs"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

queue=$(output Orders OrdersQueueUrl)
dlq=$(output Orders DeadLetterQueueUrl)
[ -n "$queue" ] && [ -n "$dlq" ] || fail "no queue URLs in $outputs (run localstack/deploy.sh first)"
depth() { aws sqs get-queue-attributes --queue-url "$1" --attribute-names ApproximateNumberOfMessages \
  --query 'Attributes.ApproximateNumberOfMessages' --output text; }

echo "queue: an order task the worker cannot parse is dead-lettered, not retried forever"
before=$(depth "$dlq")
aws sqs send-message --queue-url "$queue" --message-body '{"smoke":"not an order task"}' >/dev/null
for _ in $(seq 1 30); do
  [ "$(depth "$dlq")" -gt "$before" ] && break
  sleep 2
done
[ "$(depth "$dlq")" -gt "$before" ] || fail "the malformed order never reached the dead-letter queue"
echo "ok: dead-lettered"

rest=$(output Api RestUrl)
if [ -z "$rest" ]; then
  echo "REST API not deployed (LOCALSTACK_PLAN=free): REST checks skipped"
  exit 0
fi
api_key=$(aws secretsmanager get-secret-value --secret-id "$(output Secrets ApiKeysSecret)" \
  --query SecretString --output text | jq -r '.API_KEYS | split(",")[0]')

echo "rest: GET /health"
curl -sS "$rest/health" | jq -e .status >/dev/null || fail "/health did not answer with a report (200 ok or 503 degraded)"

echo "rest: GET /instruments, an option the platform lists"
instrument=$(curl -fsS "$rest/instruments?underlying=NIFTY&type=CE&limit=1" -H "x-api-key: $api_key" | jq -c '.instruments[0] // empty')
[ -n "$instrument" ] || fail "GET /instruments listed no NIFTY call option"
token=$(jq -r .instrument_token <<<"$instrument")
symbol=$(jq -r .tradingsymbol <<<"$instrument")
exchange=$(jq -r .exchange <<<"$instrument")
lot=$(jq -r .lot_size <<<"$instrument")
echo "ok: $exchange:$symbol (token $token, lot $lot)"

echo "rest: POST and GET /subscriptions"
curl -fsS -X POST "$rest/subscriptions" -H "x-api-key: $api_key" -H 'content-type: application/json' \
  -d "{\"instrument_token\": $token, \"mode\": \"FULL\"}" >/dev/null || fail "subscription not created"
curl -fsS "$rest/subscriptions" -H "x-api-key: $api_key" | jq -e '.' >/dev/null || fail "subscriptions not listed"

echo "rest: POST /orders for $symbol (paper broker: no Kite account configured), then GET until processed"
task="smoke-$(date +%s)"
curl -fsS -X POST "$rest/orders" -H "x-api-key: $api_key" -H 'content-type: application/json' -d "{
  \"task_id\": \"$task\", \"operation\": \"place_order\", \"idempotency_key\": \"$task\", \"account_id\": \"mock\",
  \"params\": {\"variety\": \"regular\", \"exchange\": \"$exchange\", \"tradingsymbol\": \"$symbol\",
               \"transaction_type\": \"BUY\", \"quantity\": $lot, \"product\": \"NRML\", \"order_type\": \"MARKET\",
               \"validity\": \"DAY\", \"market_protection\": -1}}" >/dev/null || fail "order not accepted"
# GET /orders/{task_id} answers {"order": {status, last_error, …}} (shared/contracts/order-api.ts).
status=PENDING
for _ in $(seq 1 30); do
  order=$(curl -fsS "$rest/orders/$task" -H "x-api-key: $api_key")
  status=$(jq -r '.order.status' <<<"$order")
  case "$status" in COMPLETED|DEAD_LETTER) break ;; esac
  sleep 2
done
case "$status" in
  COMPLETED) echo "ok: order $task is COMPLETED" ;;
  DEAD_LETTER) fail "order $task was dead-lettered: $(jq -r '.order.last_error' <<<"$order")" ;;
  *) fail "order $task is still $status: the worker did not finish it" ;;
esac
