import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag (AwsSolutions pack) runs as a CDK validation plugin on every synth (the app and the
 * tests); a finding nobody acknowledged fails synthesis. Acknowledgements are made where the
 * finding arises, on the narrowest construct, each with its reason; this module spells the ids.
 */

/** Acknowledges one AwsSolutions finding on `scope` (and below), e.g. `L1` or `IAM5[Resource::*]`. */
export function acknowledge(scope: IConstruct, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${finding}`, reason });
}

/**
 * The IAM5 finding id cdk-nag reports for a resource ARN containing `*`: CloudFormation references
 * flattened the way cdk-nag flattens them (`Ref` → `<id>`, `Fn::GetAtt` → `<id.attr>`, joins
 * concatenated, `${…}` → `<…>`). Used for wildcards that cannot be avoided, such as connection ids.
 */
export function wildcardResourceFinding(scope: IConstruct, arn: string): string {
  return `IAM5[Resource::${flatten(Stack.of(scope).resolve(arn))}]`;
}

function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const object = node as Record<string, unknown>;
    const join = object['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if ('Fn::Sub' in object) return flatten(object['Fn::Sub']);
    const getAtt = object['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
    if ('Fn::ImportValue' in object) return flatten(object['Fn::ImportValue']);
    if ('Ref' in object) return `<${flatten(object.Ref)}>`;
  }
  return JSON.stringify(node);
}
