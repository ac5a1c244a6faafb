#!/usr/bin/env bash
# Deploys the CDK app to a running LocalStack (docker compose -f localstack/docker-compose.yml up -d)
# through the AWS endpoint variables, so the pinned aws-cdk CLI talks to LocalStack.
# Untested on the build machine, which has no Docker engine.
#
#   LOCALSTACK_PLAN=free  (default) Network, Secrets, Data without the Valkey cache, Orders:
#                         DynamoDB, SQS, Lambda, Secrets Manager, CloudFormation, EC2 (VPC) only.
#   LOCALSTACK_PLAN=base  every stack, without the cache: adds the HTTP and WebSocket APIs, ECS
#                         (the ingest image is built by the local Docker engine) and CloudWatch.
#   LOCALSTACK_PLAN=full  every stack with the cache (ElastiCache needs a paid plan above Base).
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=ap-south-1 AWS_DEFAULT_REGION=ap-south-1
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}
export CDK_DEFAULT_ACCOUNT=000000000000 CDK_DEFAULT_REGION=ap-south-1
stage=${STAGE:-local}
plan=${LOCALSTACK_PLAN:-free}
context=(-c stage="$stage" -c region=ap-south-1)
case "$plan" in
  free) context+=(-c cache=false); stacks=(Network Secrets Data Orders) ;;
  base) context+=(-c cache=false); stacks=(Network Secrets Data Realtime Orders Api Ingest Observability) ;;
  full) stacks=(Network Secrets Data Realtime Orders Api Ingest Observability) ;;
  *) echo "LOCALSTACK_PLAN must be free, base or full" >&2; exit 2 ;;
esac
names=()
for stack in "${stacks[@]}"; do names+=("Ticker-${stage}-${stack}"); done

npx cdk bootstrap "aws://000000000000/ap-south-1" "${context[@]}"
# --exclusively: on the free plan the later stacks (APIs, ECS) are synthesized but not deployed.
npx cdk deploy --exclusively "${names[@]}" --require-approval never "${context[@]}" \
  --outputs-file "localstack/outputs-${stage}.json"
echo "Deployed ${names[*]}; outputs in localstack/outputs-${stage}.json"
