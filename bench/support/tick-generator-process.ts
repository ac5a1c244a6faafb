import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { Channels } from '../../shared/ports/tick-bus.js';
import { childConfig, type ProcessUsage, processUsage, serveParent } from './child-process.js';
import { TAIL_BEFORE_TIME } from './generated-tick.js';
import { wallNowMs } from './wall-clock.js';

/*
 * The ingest side of the fan-out benchmark, in a process of its own: it publishes option ticks
 * for `instruments` tokens on the bus at a set rate, as the ingest task's publisher does (one
 * message per channel per turn, a JSON array of ticks), every `stepMs`. Each tick's
 * `received_at_ms` is the cross-process wall clock at publishing, with microsecond resolution, so
 * the clients measure generation → receipt without a whole-millisecond stamp.
 */

/** What the parent passes. */
export interface GeneratorProcessConfig {
  readonly redisUrl: string;
  /** First instrument token; the benchmark's tokens are consecutive from here. */
  readonly firstToken: number;
  readonly instruments: number;
  readonly stepMs: number;
}

/** Requests the generator answers. */
export type GeneratorRpc = {
  /** Sets the offered rate (ticks/s over all instruments, round-robin); 0 stops. Replies with the ticks published so far. */
  rate: { arg: { readonly ticksPerS: number }; reply: number };
  report: { arg: null; reply: { readonly published: number; readonly usage: ProcessUsage } };
};

const config = childConfig<GeneratorProcessConfig>();
const bus = await RedisTickBus.connect(config.redisUrl);
const channel = Channels.options('NIFTY');

/** The start of a tick of `token` as the pipeline encodes it, up to its price. */
function template(token: number): string {
  const strike = 20_000 + (token - config.firstToken) * 50;
  return `{"instrument_token":${token},"tradingsymbol":"NIFTY26DEC${strike}CE","last_price":`;
}

const heads = Array.from({ length: config.instruments }, (_, i) => template(config.firstToken + i));

let ticksPerS = 0;
let published = 0;
let next = 0;
let owed = 0;
let lastStep = wallNowMs();

const timer = setInterval(() => {
  const now = wallNowMs();
  owed += ((now - lastStep) / 1000) * ticksPerS;
  lastStep = now;
  const due = Math.floor(owed);
  if (due <= 0) return;
  owed -= due;
  const parts: string[] = [];
  for (let i = 0; i < due; i++) {
    const price = 100 + ((published + i) % 997) / 20;
    parts.push(`${heads[next] as string}${price}${TAIL_BEFORE_TIME}${wallNowMs()}}`);
    next = (next + 1) % heads.length;
  }
  published += due;
  for (let start = 0; start < parts.length; start += 500) {
    void bus.publish(channel, `[${parts.slice(start, start + 500).join(',')}]`).catch(() => {});
  }
}, config.stepMs);

serveParent<GeneratorRpc>(
  {
    rate: ({ ticksPerS: rate }) => {
      ticksPerS = rate;
      owed = 0;
      lastStep = wallNowMs();
      return published;
    },
    report: () => ({ published, usage: processUsage() }),
  },
  null,
  async () => {
    clearInterval(timer);
    await bus.close();
  },
);
