import { inspect } from 'node:util';

/**
 * A value that must never be printed: `String(secret)`, `JSON.stringify`, `console.log` and the
 * logger all show `[redacted]`. Only `reveal()` gives the value, so each use is deliberate and easy
 * to find.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[redacted]';
  }

  toJSON(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return '[redacted]';
  }
}
