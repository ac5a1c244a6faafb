import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { acknowledge } from '../nag.js';

export interface SecretsStackProps extends StackProps {
  /** Secret names start with this, e.g. `ticker-prod`: `ticker-prod/kite-accounts`. */
  readonly namePrefix: string;
  readonly retainSecrets: boolean;
}

/**
 * The platform's secrets, each a JSON object whose key is the environment variable the
 * composition root reads, so Lambda (at container start) and ECS (at task start) inject the same
 * field under the same name:
 *
 * - `kite-accounts` → `KITE_ACCOUNTS` (`id:api_key:access_token,…`). Created empty (mock data);
 *   operators write the accounts, and the access tokens daily (docs/deploy.md).
 * - `jwt` → `JWT_SECRET` (HS256), generated. With an identity provider, set the `jwksUrl` context
 *   instead (plain configuration, not a secret).
 * - `api-keys` → `API_KEYS` (comma-separated), one generated key to start with.
 *
 * Their lifecycle is the operators', not a deployment's: a separate stack, retained in production.
 */
export class SecretsStack extends Stack {
  readonly kiteAccounts: Secret;
  readonly jwt: Secret;
  readonly apiKeys: Secret;

  constructor(scope: Construct, id: string, props: SecretsStackProps) {
    super(scope, id, props);
    const removalPolicy = props.retainSecrets ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.kiteAccounts = new Secret(this, 'KiteAccounts', {
      secretName: `${props.namePrefix}/kite-accounts`,
      description: 'KITE_ACCOUNTS: id:api_key:access_token entries, comma-separated; access tokens renewed daily',
      // An empty KITE_ACCOUNTS means mock data; the generated field is unused filler the template requires.
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ KITE_ACCOUNTS: '' }),
        generateStringKey: 'unused',
        excludePunctuation: true,
        passwordLength: 16,
      },
      removalPolicy,
    });
    this.jwt = new Secret(this, 'Jwt', {
      secretName: `${props.namePrefix}/jwt`,
      description: 'JWT_SECRET: the HS256 key client tokens are signed with',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'JWT_SECRET',
        excludePunctuation: true,
        passwordLength: 64,
      },
      removalPolicy,
    });
    this.apiKeys = new Secret(this, 'ApiKeys', {
      secretName: `${props.namePrefix}/api-keys`,
      description: 'API_KEYS: REST API keys, comma-separated',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({}),
        generateStringKey: 'API_KEYS',
        excludePunctuation: true,
        passwordLength: 40,
      },
      removalPolicy,
    });
    new CfnOutput(this, 'KiteAccountsSecret', { value: this.kiteAccounts.secretArn });
    new CfnOutput(this, 'JwtSecret', { value: this.jwt.secretArn });
    new CfnOutput(this, 'ApiKeysSecret', { value: this.apiKeys.secretArn });
    acknowledge(
      this.kiteAccounts,
      'SMG4',
      'Kite access tokens come from a daily interactive login, not from a rotation Lambda: operators write them (docs/deploy.md)',
    );
    acknowledge(
      this.jwt,
      'SMG4',
      'Rotating the signing key invalidates every client token at once; it is rotated by hand, with notice (docs/deploy.md)',
    );
    acknowledge(
      this.apiKeys,
      'SMG4',
      'API keys are issued to and revoked for callers by operators, not rotated on a schedule',
    );
  }
}
