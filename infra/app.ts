import { App } from 'aws-cdk-lib';
import { DataStack } from './stacks/data-stack.js';

/**
 * The CDK app. `stage` (context, default `dev`) names the deployment and prefixes every table;
 * `npx cdk synth` works offline with no AWS credentials. Stacks are split by lifecycle; data first.
 */
const app = new App();
const stage = String(app.node.tryGetContext('stage') ?? 'dev');
const env = { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION ?? 'ap-south-1' };

new DataStack(app, `Ticker-${stage}-Data`, { env, tablePrefix: `ticker-${stage}`, retainData: stage === 'prod' });

app.synth();
