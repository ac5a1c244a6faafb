import { encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import { Channels } from '../../shared/ports/tick-bus.js';
import { createLatencyHistogram } from '../scenario.js';
import { childConfig, type ProcessUsage, processUsage, serveParent } from './child-process.js';
import { probeTime } from './ingest-fixture.js';
import { wallNowMs } from './wall-clock.js';

/*
 * A client of the tick bus in a process of its own, as the fan-out is: it `psubscribe`s
 * `ticker:*` on its own Redis connection and records for every option tick the time from
 * `received_at_ms` (when the ingest process got the Kite frame) to now. Probe ticks also give the
 * time since the Kite side generated their frame. On request it follows individual tokens (first
 * tick, largest gap between ticks), which is what a subscription reload is judged by.
 *
 * It reads only the three fields it needs, by scanning the message for them rather than parsing
 * it: on a two-core machine every microsecond this process spends per tick is taken from the
 * ingest process being measured, and `JSON.parse` of every tick would cost it several.
 */

/** What the parent passes. */
export interface SubscriberProcessConfig {
  readonly redisUrl: string;
  readonly probeTokens: readonly number[];
}

/** The figures since the last `reset` (totals since start where named so). */
export interface SubscriberReport {
  /** `received_at_ms` → receipt, µs, HDR histogram as compressed base64. */
  readonly latencyUs: string;
  /** Probe ticks only: Kite-side generation → receipt, µs, compressed base64. */
  readonly generationUs: string;
  readonly received: number;
  readonly messages: number;
  /** Option ticks received since the process started. */
  readonly totalReceived: number;
  readonly windowMs: number;
  /** When the report was made, on the cross-process wall clock. */
  readonly atMs: number;
  /** Redis connection events since start: a reconnect means Redis dropped the subscriber (e.g. its output buffer limit). */
  readonly reconnects: number;
  readonly usage: ProcessUsage;
}

/** One followed token since the last `track`. */
export interface TrackedToken {
  readonly token: number;
  /** Wall time of its first tick ever, if any. */
  readonly firstAtMs: number | null;
  /** Largest interval between two consecutive ticks (or from the last tick to now) since `track`, ms. */
  readonly maxGapMs: number;
  readonly ticks: number;
}

/** Requests the subscriber process answers. */
export type SubscriberRpc = {
  /** Starts a new measurement window (histograms and counts); replies with the figures at its start. */
  reset: { arg: null; reply: { readonly atMs: number; readonly usage: ProcessUsage; readonly totalReceived: number } };
  report: { arg: null; reply: SubscriberReport };
  /** Starts following every token (or restarts: gaps and counts from now, first ticks kept); returns the wall time. */
  track: { arg: null; reply: number };
  tracked: { arg: { readonly tokens: readonly number[] }; reply: TrackedToken[] };
};

interface Track {
  readonly first: number;
  last: number;
  maxGap: number;
  ticks: number;
}

const config = childConfig<SubscriberProcessConfig>();
const probes = new Set(config.probeTokens);
let latency: Histogram = createLatencyHistogram();
let generation: Histogram = createLatencyHistogram();
let received = 0;
let messages = 0;
let totalReceived = 0;
let windowStart = wallNowMs();
let reconnects = 0;
let tracking = false;
let trackSince = 0;
const tracks = new Map<number, Track>();

const TICK_START = '{"instrument_token":';
const RECEIVED_AT = '"received_at_ms":';
const LAST_PRICE = '"last_price":';

/** The JSON number starting at `from` (up to the next `,` or `}`), or NaN. */
function numberAt(text: string, from: number): number {
  let end = from;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    if (c === 44 || c === 125) break; // ',' or '}'
    end++;
  }
  return Number(text.slice(from, end));
}

/**
 * Every tick of one bus message (a tick object or an array of them, as the publisher sends):
 * each starts with its `instrument_token`, and the fields read are looked for only up to the
 * next tick.
 */
function onMessage(message: string, now: number): void {
  let at = message.indexOf(TICK_START);
  while (at >= 0) {
    const next = message.indexOf(TICK_START, at + TICK_START.length);
    const limit = next < 0 ? message.length : next;
    const token = numberAt(message, at + TICK_START.length);
    const receivedAt = message.indexOf(RECEIVED_AT, at);
    onTick(
      token,
      receivedAt >= 0 && receivedAt < limit ? numberAt(message, receivedAt + RECEIVED_AT.length) : Number.NaN,
      message,
      at,
      now,
    );
    at = next;
  }
}

function onTick(token: number, receivedAt: number, message: string, at: number, now: number): void {
  if (!Number.isFinite(token)) return;
  received++;
  totalReceived++;
  if (Number.isFinite(receivedAt)) latency.recordValue(Math.max(1, Math.round((now - receivedAt) * 1000)));
  if (probes.has(token)) {
    const priceAt = message.indexOf(LAST_PRICE, at);
    const lastPrice = priceAt >= 0 ? numberAt(message, priceAt + LAST_PRICE.length) : Number.NaN;
    if (Number.isFinite(lastPrice)) {
      generation.recordValue(Math.max(1, Math.round((now - probeTime(lastPrice, now)) * 1000)));
    }
  }
  if (!tracking) return;
  const track = tracks.get(token);
  if (!track) {
    tracks.set(token, { first: now, last: now, maxGap: 0, ticks: 1 });
    return;
  }
  track.maxGap = Math.max(track.maxGap, now - track.last);
  track.last = now;
  track.ticks++;
}

const bus = await RedisTickBus.connect(config.redisUrl, {
  onEvent: (event) => {
    if (event.connection === 'subscriber' && event.kind === 'reconnecting') reconnects++;
  },
});
await bus.psubscribe(Channels.allTicks, (channel, message) => {
  if (!channel.endsWith(':options')) return;
  const now = wallNowMs();
  messages++;
  onMessage(message, now);
});

serveParent<SubscriberRpc>(
  {
    reset: () => {
      latency = createLatencyHistogram();
      generation = createLatencyHistogram();
      received = 0;
      messages = 0;
      windowStart = wallNowMs();
      return { atMs: windowStart, usage: processUsage(), totalReceived };
    },
    report: () => ({
      latencyUs: encodeIntoCompressedBase64(latency),
      generationUs: encodeIntoCompressedBase64(generation),
      received,
      messages,
      totalReceived,
      windowMs: wallNowMs() - windowStart,
      atMs: wallNowMs(),
      reconnects,
      usage: processUsage(),
    }),
    track: () => {
      tracking = true;
      trackSince = wallNowMs();
      for (const track of tracks.values()) {
        track.maxGap = 0;
        track.ticks = 0;
      }
      return trackSince;
    },
    tracked: ({ tokens }) => {
      const now = wallNowMs();
      return tokens.map((token) => {
        const track = tracks.get(token);
        if (!track) return { token, firstAtMs: null, maxGapMs: now - trackSince, ticks: 0 };
        return {
          token,
          firstAtMs: track.first,
          maxGapMs: Math.max(track.maxGap, now - track.last),
          ticks: track.ticks,
        };
      });
    },
  },
  null,
  () => bus.close(),
);
