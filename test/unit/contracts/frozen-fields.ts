import { type ZodType, z } from 'zod';

/** A JSON type as the plan writes it: `integer`, `string | null`, `object`, … */
export type PlanType = string;

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  required?: string[];
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  items?: JsonSchemaNode;
  const?: unknown;
}

function typesOf(node: JsonSchemaNode): Set<string> {
  const out = new Set<string>();
  if (typeof node.type === 'string') out.add(node.type);
  if (Array.isArray(node.type)) for (const t of node.type) out.add(t);
  for (const alt of node.anyOf ?? []) for (const t of typesOf(alt)) out.add(t);
  return out;
}

function objectBranch(node: JsonSchemaNode): JsonSchemaNode {
  return node.properties ? node : ((node.anyOf ?? []).find((n) => n.properties) ?? node);
}

/** The JSON Schema node of `path` (dot-separated) and whether its last segment is required. */
export function fieldAt(schema: ZodType, path: string): { node: JsonSchemaNode; required: boolean } | undefined {
  let node: JsonSchemaNode = z.toJSONSchema(schema, { io: 'output' }) as JsonSchemaNode;
  let required = true;
  for (const key of path.split('.')) {
    const parent = objectBranch(node.type === 'array' && node.items ? node.items : node);
    const child = parent.properties?.[key];
    if (!child) return undefined;
    required = (parent.required ?? []).includes(key);
    node = child;
  }
  return { node, required };
}

/**
 * Collects every way `schema` departs from the plan's frozen `fields` (a field missing, renamed,
 * optional, or of another JSON type). Empty when the contract holds.
 */
export function contractViolations(schema: ZodType, fields: Record<string, PlanType>): string[] {
  const problems: string[] = [];
  for (const [path, planType] of Object.entries(fields)) {
    const found = fieldAt(schema, path);
    if (!found) {
      problems.push(`${path}: missing`);
      continue;
    }
    if (!found.required) problems.push(`${path}: not required`);
    const expected = new Set(planType.split('|').map((t) => t.trim()));
    const actual = typesOf(found.node);
    if (found.node.const !== undefined) actual.add(typeof found.node.const);
    const same = expected.size === actual.size && [...expected].every((t) => actual.has(t));
    if (!same) problems.push(`${path}: type ${[...actual].join(' | ') || '?'} instead of ${planType}`);
  }
  return problems;
}

/** The required top-level fields of an object schema. */
export function requiredFields(schema: ZodType): string[] {
  const node = z.toJSONSchema(schema, { io: 'output' }) as JsonSchemaNode;
  return [...(node.required ?? [])].sort();
}
