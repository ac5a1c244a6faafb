import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createPlatform, parseDeployContext } from './platform.js';

/**
 * The CDK app. Context: `stage` (default `dev`) names the deployment and prefixes every table and
 * secret; `region` picks the region (default ap-south-1); `cache=false` leaves out the Valkey cache (LocalStack's free plan); `jwksUrl` and
 * `alarmEmail` are optional; `apiGatewayAccountRole` (`create` | `existing`), `imageArchitecture`
 * (`arm64` | `x86_64`) and `reservedConcurrency` (`none` | `<worker>` | `<worker>,<sweeper>`) fit
 * the deployment to its account and build machine (docs/deploy.md). `npx cdk synth` works offline, with no AWS credentials and no Docker:
 * functions are bundled by the local esbuild, and the ingest image is only built at deploy.
 * cdk-nag's AwsSolutions checks run on every synth; an unsuppressed finding fails it.
 */
const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return value === undefined || value === null || value === '' ? undefined : String(value);
};
const stage = context('stage') ?? 'dev';
const jwksUrl = context('jwksUrl');
const alarmEmail = context('alarmEmail');
createPlatform(app, {
  stage,
  // The NSE is in Mumbai: ap-south-1 unless the `region` context or AWS_REGION says otherwise (the CLI's
  // own CDK_DEFAULT_REGION falls back to us-east-1 when no profile names a region, so it is not used).
  env: {
    account: process.env.CDK_DEFAULT_ACCOUNT,
    region: context('region') ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'ap-south-1',
  },
  cache: context('cache') !== 'false',
  ...(jwksUrl !== undefined && { jwksUrl }),
  ...(alarmEmail !== undefined && { alarmEmail }),
  ...parseDeployContext(context),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

app.synth();
