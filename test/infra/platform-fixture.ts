import { App, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createPlatform, type Platform, type PlatformOptions } from '../../infra/platform.js';

/**
 * A platform as the app builds it, with bundling skipped (the CDK context `aws:cdk:bundling-stacks`
 * set to no stack: NodejsFunction assets are staged without running esbuild, so a test synthesizes
 * in seconds; `npm run synth` bundles for real) and, unless `nag` is false, cdk-nag's AwsSolutions
 * checks registered (they make synthesis throw on an unacknowledged finding, and take most of its time).
 */
export function buildPlatform(
  options: Partial<PlatformOptions> = {},
  adjust?: (platform: Platform) => void,
  nag = true,
): { app: App; platform: Platform } {
  const app = new App({
    context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:defaultCrossStackReferences': 'strong' },
  });
  const platform = createPlatform(app, { stage: 'test', env: { region: 'ap-south-1' }, ...options });
  adjust?.(platform);
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, platform };
}

/** What synthesis with the nag checks reports: nothing when every finding is fixed or acknowledged. */
export function nagFailure(app: App): string | undefined {
  try {
    app.synth();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** An IAM policy statement as it appears in a template. */
export interface TemplateStatement {
  readonly Effect: string;
  readonly Action: string | readonly string[];
  readonly Resource: unknown;
}

/** Every Allow statement of the template's policies (inline and managed), with the policy's logical id. */
export function allowStatements(template: Template): { policy: string; statement: TemplateStatement }[] {
  const found: { policy: string; statement: TemplateStatement }[] = [];
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, resource] of Object.entries(template.findResources(type))) {
      const document = (resource as { Properties: { PolicyDocument: { Statement: TemplateStatement[] } } }).Properties
        .PolicyDocument;
      for (const statement of document.Statement)
        if (statement.Effect === 'Allow') found.push({ policy: id, statement });
    }
  }
  return found;
}

const asArray = <T>(value: T | readonly T[]): readonly T[] => (Array.isArray(value) ? value : [value as T]);

/** Services whose actions read or change the platform's data. */
const DATA_SERVICES = ['dynamodb', 'sqs', 'secretsmanager', 'elasticache', 's3', 'kms'];

/**
 * The statements that grant data access too broadly: a wildcard in a data action (`dynamodb:*`,
 * `sqs:Send*`) or a data action on every resource (`*`). The least-privilege rule the tests hold
 * every stack to.
 */
export function wildcardDataGrants(template: Template): string[] {
  const problems: string[] = [];
  for (const { policy, statement } of allowStatements(template)) {
    const actions = asArray(statement.Action).filter((a) => DATA_SERVICES.includes(a.split(':')[0] ?? ''));
    if (actions.length === 0) continue;
    const wildcardActions = actions.filter((a) => a.includes('*'));
    if (wildcardActions.length > 0) problems.push(`${policy}: ${wildcardActions.join(', ')}`);
    if (asArray(statement.Resource).includes('*')) problems.push(`${policy}: ${actions.join(', ')} on *`);
  }
  return problems;
}

/** The logical id of the IAM policy attached to a function's role in `template`. */
export function policyOfRole(template: Template, roleLogicalId: string): TemplateStatement[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((resource) => {
    const roles = (resource as { Properties: { Roles: { Ref: string }[] } }).Properties.Roles;
    return roles.some((r) => r.Ref === roleLogicalId);
  });
  return policies.flatMap(
    (resource) =>
      (resource as { Properties: { PolicyDocument: { Statement: TemplateStatement[] } } }).Properties.PolicyDocument
        .Statement,
  );
}
