/**
 * One copy of each equal text. Texts parsed or built row by row (an instrument master's exchange,
 * segment, underlying and expiry; the channel of every option of an underlying) are each a string
 * of their own; interned, tens of thousands of rows share a handful. The interner holds what it
 * has seen until it is dropped: use one per load, not one for the process.
 */
export class Interner {
  readonly #texts = new Map<string, string>();

  /** `text`, or the equal text seen first. */
  intern(text: string): string {
    const known = this.#texts.get(text);
    // Stryker disable next-line ConditionalExpression: equal strings are indistinguishable in JS; only memory differs
    if (known !== undefined) return known;
    this.#texts.set(text, text);
    return text;
  }
}
