#!/usr/bin/env bash
# Deploys the CDK app to a running LocalStack (docker compose -f localstack/docker-compose.yml up -d).
# Untested on the build machine, which has no Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=ap-south-1 AWS_DEFAULT_REGION=ap-south-1
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://localhost.localstack.cloud:4566}
export CDK_DEFAULT_ACCOUNT=000000000000 CDK_DEFAULT_REGION=ap-south-1
stage=${STAGE:-local}
npx cdk bootstrap "aws://000000000000/ap-south-1" -c stage="$stage"
npx cdk deploy --all --require-approval never -c stage="$stage"
