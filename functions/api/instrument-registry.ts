import { istDate } from '../../shared/domain/market/calendar-dates.js';
import { DependencyUnavailableError, describeError } from '../../shared/errors.js';
import type { Clock } from '../../shared/ports/clock.js';
import type { Instrument } from '../../shared/ports/market-data.js';

/** How long a loaded registry is used before it is loaded again (Kite publishes the master daily). */
const REFRESH_MS = 60 * 60 * 1000;

/** The registry's state for `/health`. */
export interface RegistryStatus {
  /** `stale`: the last reload failed and an older copy is being served. */
  readonly status: 'ok' | 'stale' | 'unavailable' | 'not loaded';
  readonly source: 'mock' | 'kite';
  readonly instruments: number;
  readonly loaded_at: string | null;
  readonly error?: string;
}

interface Loaded {
  readonly instruments: readonly Instrument[];
  readonly byToken: Map<number, Instrument>;
  readonly atMs: number;
}

/**
 * The instrument registry as the REST functions see it: loaded once per container and kept (the
 * master has tens of thousands of rows; loading it per request would cost a Kite call each time),
 * indexed by token, reloaded hourly and when the trading date changes. A failed load is not kept:
 * the next request tries again, and until then the last good copy keeps serving.
 */
export class InstrumentRegistry {
  readonly #load: () => Promise<readonly Instrument[]>;
  readonly #clock: Clock;
  readonly #source: 'mock' | 'kite';
  #current: Loaded | undefined;
  #loading: Promise<void> | undefined;
  #lastError: string | undefined;

  constructor(options: { load: () => Promise<readonly Instrument[]>; clock: Clock; source: 'mock' | 'kite' }) {
    this.#load = options.load;
    this.#clock = options.clock;
    this.#source = options.source;
  }

  /** Every instrument; rejects with `DependencyUnavailableError` when none could ever be loaded. */
  async all(): Promise<readonly Instrument[]> {
    return (await this.#ensure()).instruments;
  }

  /** The instrument with `token`, or `undefined`. */
  async get(token: number): Promise<Instrument | undefined> {
    return (await this.#ensure()).byToken.get(token);
  }

  /**
   * The instrument whose price drives `option`'s Greeks: the index of the same underlying (the
   * mock registry and Kite's master both name options by their index's `name`).
   */
  async underlyingOf(option: Instrument): Promise<Instrument | undefined> {
    const { instruments } = await this.#ensure();
    return instruments.find((i) => i.instrumentType === 'INDEX' && i.name === option.name);
  }

  /** The registry's state, loading it if needed, never rejecting. */
  async status(): Promise<RegistryStatus> {
    try {
      await this.#ensure();
    } catch {
      // Reported below.
    }
    const current = this.#current;
    return {
      status:
        current === undefined
          ? this.#lastError === undefined
            ? 'not loaded'
            : 'unavailable'
          : this.#lastError === undefined
            ? 'ok'
            : 'stale',
      source: this.#source,
      instruments: current?.instruments.length ?? 0,
      loaded_at: current === undefined ? null : new Date(current.atMs).toISOString(),
      ...(this.#lastError !== undefined && { error: this.#lastError }),
    };
  }

  async #ensure(): Promise<Loaded> {
    const now = this.#clock.now();
    const current = this.#current;
    const stale = current === undefined || now - current.atMs > REFRESH_MS || istDate(now) !== istDate(current.atMs);
    if (stale) {
      this.#loading ??= this.#reload().finally(() => {
        this.#loading = undefined;
      });
      // Serve the last good copy while a refresh runs; wait only when there is none.
      if (current === undefined) await this.#loading;
      else void this.#loading.catch(() => {});
    }
    if (this.#current === undefined) {
      throw new DependencyUnavailableError('instrument-registry', 'The instrument registry is unavailable');
    }
    return this.#current;
  }

  async #reload(): Promise<void> {
    try {
      const instruments = await this.#load();
      this.#current = {
        instruments,
        byToken: new Map(instruments.map((i) => [i.instrumentToken, i])),
        atMs: this.#clock.now(),
      };
      this.#lastError = undefined;
    } catch (error) {
      this.#lastError = describeError(error);
      if (this.#current === undefined) {
        throw new DependencyUnavailableError('instrument-registry', 'The instrument registry cannot be loaded', {
          cause: error,
        });
      }
    }
  }
}
