import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * One environment variable filled from Secrets Manager when a Lambda container starts: the secret's
 * value, or one field of it when the secret is a JSON object, optionally placed into a template
 * (`{value}` is replaced by the URI-encoded value, as for `REDIS_URL`).
 */
export interface SecretVariable {
  readonly name: string;
  readonly secretArn: string;
  readonly field?: string;
  readonly template?: string;
}

/** The variable that lists the {@link SecretVariable}s as JSON; the CDK function construct sets it. */
export const SECRET_ENVIRONMENT_VARIABLE = 'SECRET_ENVIRONMENT';

/** Thrown when a listed secret cannot be read or lacks its field; the container's init fails with it. */
export class SecretEnvironmentError extends Error {
  override readonly name = 'SecretEnvironmentError';
}

function isSecretVariable(value: unknown): value is SecretVariable {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.name === 'string' &&
    typeof v.secretArn === 'string' &&
    (v.field === undefined || typeof v.field === 'string') &&
    (v.template === undefined || typeof v.template === 'string')
  );
}

/** Parses the {@link SECRET_ENVIRONMENT_VARIABLE} value; an unset or empty value lists nothing. */
export function parseSecretEnvironment(raw: string | undefined): readonly SecretVariable[] {
  if (raw === undefined || raw.trim() === '') return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed) || !parsed.every(isSecretVariable)) {
    throw new SecretEnvironmentError(`${SECRET_ENVIRONMENT_VARIABLE} must be a JSON array of {name, secretArn}`);
  }
  return parsed;
}

/** The value of one variable from its secret's string; `undefined` when the field is empty (unset). */
export function variableValue(variable: SecretVariable, secretString: string): string | undefined {
  let value = secretString;
  if (variable.field !== undefined) {
    const object: unknown = JSON.parse(secretString);
    const field =
      typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[variable.field] : undefined;
    if (typeof field !== 'string') {
      throw new SecretEnvironmentError(`secret for ${variable.name} has no string field "${variable.field}"`);
    }
    value = field;
  }
  if (value === '') return undefined;
  return variable.template === undefined ? value : variable.template.replaceAll('{value}', encodeURIComponent(value));
}

/**
 * Reads every listed secret (each once, in parallel) and sets the variables in `env`. The
 * composition root reads secrets as environment variables (`JWT_SECRET`, `API_KEYS`,
 * `KITE_ACCOUNTS`, `REDIS_URL`); in Lambda they come from Secrets Manager at container start rather
 * than from the function's configuration, so no secret value is stored in CloudFormation or shown
 * by `GetFunctionConfiguration`, and a rotated value reaches every new container.
 */
export async function loadSecretEnvironment(
  env: Record<string, string | undefined>,
  client: Pick<SecretsManagerClient, 'send'> = new SecretsManagerClient({}),
): Promise<void> {
  const variables = parseSecretEnvironment(env[SECRET_ENVIRONMENT_VARIABLE]);
  const arns = [...new Set(variables.map((v) => v.secretArn))];
  const strings = new Map<string, string>();
  await Promise.all(
    arns.map(async (SecretId) => {
      try {
        const result = await client.send(new GetSecretValueCommand({ SecretId }));
        strings.set(SecretId, result.SecretString ?? '');
      } catch (cause) {
        throw new SecretEnvironmentError(`could not read secret ${SecretId}`, { cause });
      }
    }),
  );
  for (const variable of variables) {
    const value = variableValue(variable, strings.get(variable.secretArn) ?? '');
    if (value !== undefined) env[variable.name] = value;
  }
}
