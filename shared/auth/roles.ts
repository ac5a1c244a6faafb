/**
 * Who may do what. Three roles, each including the one below it: `viewer` streams and reads market
 * data (WebSocket, history, instruments, the subscription list); `trader` adds orders, its own
 * only; `admin` adds the pinned subscription set, every caller's orders and the dead letters.
 */
export const Role = { viewer: 'viewer', trader: 'trader', admin: 'admin' } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** The roles from least to most: a role includes every role before it. */
export const ROLES: readonly Role[] = [Role.viewer, Role.trader, Role.admin];

/** Whether `name` is a role of the platform (exactly, case included: `Admin` is not `admin`). */
export function isRole(name: unknown): name is Role {
  return typeof name === 'string' && (ROLES as readonly string[]).includes(name);
}

/** Whether a caller holding `held` (or no role at all) may use what needs `required`. */
export function hasRole(held: Role | null, required: Role): boolean {
  return held !== null && ROLES.indexOf(held) >= ROLES.indexOf(required);
}

/** How a token's claims name its role: the claim to read, and the role when it is absent. */
export interface RoleClaimRule {
  /** `ROLES_CLAIM`: e.g. `roles` (an array), `scope` (a space-separated string), `cognito:groups`. */
  readonly claim: string;
  /** `DEFAULT_ROLE`: the role of a token that carries no such claim. */
  readonly defaultRole: Role;
}

/**
 * The role a token's `claims` give, the highest one named. The claim may be an array of names or a
 * string of names separated by spaces or commas, so `scope`, `roles` and Cognito's groups all
 * work; names that are no role (`openid`, `email`, a group of another app) are ignored.
 *
 * A token without the claim gets `defaultRole`, so an identity provider that knows nothing of roles
 * keeps working. A token whose claim is there but names no role gets none (`null`): its issuer does
 * assign roles and gave this caller none of ours, so it is refused everywhere rather than promoted.
 */
export function roleFromClaims(claims: Readonly<Record<string, unknown>>, rule: RoleClaimRule): Role | null {
  if (!Object.hasOwn(claims, rule.claim) || claims[rule.claim] === undefined) return rule.defaultRole;
  const value = claims[rule.claim];
  const names = typeof value === 'string' ? value.split(/[\s,]+/) : Array.isArray(value) ? value : [];
  return highest(names.filter(isRole));
}

/** The highest of `roles`, or `null` for none. */
export function highest(roles: readonly Role[]): Role | null {
  let best: Role | null = null;
  for (const role of roles) if (!hasRole(best, role)) best = role;
  return best;
}

/**
 * The value of claim `claim` that grants `role`, shaped as such a claim usually is: a
 * space-separated string for OAuth's `scope` (and `scp`), an array otherwise. Used to mint local
 * development tokens that the same configuration reads back.
 */
export function roleClaimValue(claim: string, role: Role): string | string[] {
  return claim === 'scope' || claim === 'scp' ? role : [role];
}
