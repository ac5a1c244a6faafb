/** The subject of the token `npm start` prints: the local user whose orders a laptop shows. */
export const LOCAL_USER_SUBJECT = 'local-user';

/**
 * The principal id of a JWT subject: what REST records as a caller's id (and so as the `owner` of
 * the orders it places), and what the fan-out files a WebSocket connection under, so an order's
 * updates find its owner's connections. One function on both sides, so the two cannot drift.
 *
 * The prefix keeps subjects apart from API-key principals (`key-<digest>`): a token whose subject
 * happens to read `key-…` still names someone else than the API key. API-key owners never match a
 * connection: the WebSocket API takes JWTs only.
 */
export function ownerIdOfSubject(subject: string): string {
  return `sub-${subject}`;
}

/**
 * The owner id an SQS producer or the configuration names: a principal id as REST records it
 * (`sub-<subject>`, `key-<digest>`) is kept; anything else is a JWT subject, so a producer can name
 * the user (`alice`) whose token will read the order.
 */
export function ownerIdOf(name: string): string {
  return name.startsWith('sub-') || name.startsWith('key-') ? name : ownerIdOfSubject(name);
}
