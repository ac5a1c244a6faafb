import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createPlatform } from './platform.js';

/**
 * The CDK app. Context: `stage` (default `dev`) names the deployment and prefixes every table and
 * secret; `cache=false` leaves out the Valkey cache (LocalStack's free plan); `jwksUrl` and
 * `alarmEmail` are optional. `npx cdk synth` works offline, with no AWS credentials and no Docker:
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
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'ap-south-1' },
  cache: context('cache') !== 'false',
  ...(jwksUrl !== undefined && { jwksUrl }),
  ...(alarmEmail !== undefined && { alarmEmail }),
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));

app.synth();
