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
