/**
 * A connection's wanted tokens as a last-writer-wins set: each token remembers the stamp of the
 * last action that touched it and whether that action wanted it. Applying an action changes only
 * the tokens whose last stamp is older, so applying a connection's actions in any order leaves the
 * set its latest action on each token asks for: the WebSocket routes run concurrently (API Gateway
 * invokes a Lambda per message), and the order they finish in is not the order they were sent in.
 */

/** What the last action on one token said, and where that action stood in its connection's order. */
export interface TokenMark {
  readonly stamp: number;
  readonly wanted: boolean;
}

/** One subscribe or unsubscribe, stamped with its place in its connection's order (later is larger). */
export interface TokenAction {
  readonly action: 'add' | 'remove';
  readonly tokens: readonly number[];
  readonly stamp: number;
  /** For `add`: refuse the whole action when the connection would then want more tokens than this. */
  readonly maxTokens?: number;
}

/** The outcome of {@link applyTokenAction}. */
export interface TokenActionOutcome {
  /** false when `maxTokens` refused the action; `marks` is then the input, unchanged. */
  readonly accepted: boolean;
  readonly marks: ReadonlyMap<number, TokenMark>;
}

/**
 * Released tokens remembered per connection, newest first: a release is kept so that an older
 * subscribe arriving after it cannot bring the token back; past this many, the oldest are forgotten.
 */
export const MAX_RELEASED_MARKS = 1000;

/** The tokens `marks` wants, ascending. */
export function wantedTokens(marks: ReadonlyMap<number, TokenMark>): number[] {
  const wanted: number[] = [];
  for (const [token, mark] of marks) if (mark.wanted) wanted.push(token);
  return wanted.sort((a, b) => a - b);
}

/**
 * Applies `action` to `marks`: a token changes when the action's stamp is not older than its mark
 * (an equal stamp is a later arrival of the same instant, and wins). Commutes with any other action
 * of a different stamp, so the result does not depend on the order actions are applied in.
 */
export function applyTokenAction(marks: ReadonlyMap<number, TokenMark>, action: TokenAction): TokenActionOutcome {
  const next = new Map(marks);
  const wanted = action.action === 'add';
  for (const token of action.tokens) {
    const mark = next.get(token);
    if (mark === undefined || mark.stamp <= action.stamp) next.set(token, { stamp: action.stamp, wanted });
  }
  if (wanted && action.maxTokens !== undefined && countWanted(next) > action.maxTokens) {
    return { accepted: false, marks };
  }
  return { accepted: true, marks: pruneReleased(next) };
}

function countWanted(marks: ReadonlyMap<number, TokenMark>): number {
  let count = 0;
  for (const mark of marks.values()) if (mark.wanted) count++;
  return count;
}

/** Keeps at most {@link MAX_RELEASED_MARKS} released tokens, the most recent ones. */
function pruneReleased(marks: Map<number, TokenMark>): Map<number, TokenMark> {
  const released = [...marks].filter(([, mark]) => !mark.wanted);
  if (released.length <= MAX_RELEASED_MARKS) return marks;
  released.sort(([, a], [, b]) => a.stamp - b.stamp);
  for (const [token] of released.slice(0, released.length - MAX_RELEASED_MARKS)) marks.delete(token);
  return marks;
}
