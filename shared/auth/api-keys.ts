import { createHash, timingSafeEqual } from 'node:crypto';
import { isRole, ROLES, Role } from './roles.js';

/**
 * One accepted API key as it is kept: the SHA-256 of the key (never the key) and the role it grants.
 * Built from an `API_KEYS` entry by {@link parseApiKeyEntry}.
 */
export interface ApiKeyRecord {
  /** SHA-256 of the key, lower-case hex. */
  readonly sha256: string;
  readonly role: Role;
}

const DIGEST_ENTRY = /^sha256:([0-9a-fA-F]{64})$/;
const WITH_ROLE = /^(.*):([a-z]+)$/s;

/**
 * Reads one `API_KEYS` entry: `key`, `key:role`, `sha256:<hex>` or `sha256:<hex>:role`. An entry
 * without a role is an admin key (what every key was before roles). A `sha256:` entry is the key's
 * digest, so the secret holding `API_KEYS` need not hold any key in the clear. Answers an error
 * message (never naming the key) when the part after the last `:` is no role: a typo such as
 * `key:tradr` must not silently become an admin key named `key:tradr`. A key that itself contains
 * `:` is written with its role (`a:b:admin`).
 */
export function parseApiKeyEntry(entry: string): ApiKeyRecord | { readonly error: string } {
  let key = entry;
  let role: Role = Role.admin;
  const withRole = DIGEST_ENTRY.test(entry) ? null : WITH_ROLE.exec(entry);
  if (withRole !== null) {
    const [, rest = '', name] = withRole;
    if (!isRole(name)) return { error: `the role after the last ":" must be one of ${ROLES.join(', ')}` };
    key = rest;
    role = name;
  }
  if (key === '') return { error: 'the key before the role is empty' };
  const digest = DIGEST_ENTRY.exec(key)?.[1];
  return { sha256: digest === undefined ? apiKeyDigest(key) : digest.toLowerCase(), role };
}

/** The SHA-256 of an API key, lower-case hex: what an `API_KEYS` `sha256:` entry holds. */
export function apiKeyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A caller an API key identified: its principal id and its key's role. */
export interface ApiKeyMatch {
  readonly id: string;
  readonly role: Role;
}

/**
 * Checks API keys without keeping them in the clear and without leaking through timing: the
 * records hold SHA-256 digests, a presented key is hashed the same way, and the fixed-length
 * digests are compared with `timingSafeEqual` against every record (no early exit), so neither
 * the length nor the prefix of a valid key can be learnt by measuring responses.
 */
export class ApiKeyVerifier {
  readonly #records: readonly { readonly digest: Buffer; readonly role: Role }[];

  constructor(records: readonly ApiKeyRecord[]) {
    this.#records = records.map((r) => ({ digest: Buffer.from(r.sha256, 'hex'), role: r.role }));
  }

  /** Whether any key is configured; with none, every key is refused. */
  get configured(): boolean {
    return this.#records.length > 0;
  }

  /**
   * The caller `presented` identifies when it is one of the configured keys: a stable,
   * non-reversible id (for logs, throttling and order ownership) and the key's role; `undefined`
   * otherwise.
   */
  verify(presented: string): ApiKeyMatch | undefined {
    const candidate = createHash('sha256').update(presented, 'utf8').digest();
    let role: Role | undefined;
    for (const record of this.#records) {
      // Every record is compared whatever matched first (the configuration refuses a key listed twice).
      if (timingSafeEqual(candidate, record.digest)) role = record.role;
    }
    return role === undefined ? undefined : { id: `key-${candidate.subarray(0, 8).toString('hex')}`, role };
  }
}
