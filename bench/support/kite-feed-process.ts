import { startKiteSimulator } from '../../test/support/kite/simulator.js';
import { childConfig, type ProcessUsage, processUsage, serveParent } from './child-process.js';
import { type BenchAccount, benchInstruments, benchPriceSource } from './ingest-fixture.js';
import { startReplayFeed } from './kite-replay-feed.js';
import { wallNowMs } from './wall-clock.js';

/*
 * The Kite side of the ingest benchmark in a process of its own: encoding tens of thousands of
 * full-mode packets a second is real CPU work, and charged to the benchmark's process it would
 * read as ingest cost. It runs either the Kite simulator (the protocol-faithful test server) or,
 * for rates the simulator cannot generate on a small machine, the replay feed. Its clock is the
 * cross-process wall clock, so the probe packets' prices carry when each frame was generated in
 * time the other processes can compare.
 */

/** Which server speaks Kite: the simulator, or the replay feed of pre-encoded frames. */
export type FeedKind = 'simulator' | 'replay';

/** What the parent passes. */
export interface FeedProcessConfig {
  readonly feed: FeedKind;
  readonly accounts: readonly BenchAccount[];
  readonly tickIntervalMs: number;
  /** Frames each interval's ticks are spread over (simulator only); default 1. */
  readonly framesPerInterval?: number;
  readonly anchorDate: string;
}

/** What the feed process reports when ready. */
export interface FeedReady {
  readonly url: string;
}

/** The counters both servers keep, under the simulator's names. */
export interface FeedCounters {
  /** Frames of every kind written to sockets. */
  readonly framesSent: number;
  readonly tickFrames: number;
  /** Ticks sent: what the ingest side should decode. */
  readonly packetsSent: number;
  readonly heartbeats: number;
}

/** The feed's figures: its counters and its own CPU and memory. */
export interface FeedStatus {
  /** When the counters were read, on the cross-process wall clock. */
  readonly atMs: number;
  readonly counters: FeedCounters;
  readonly usage: ProcessUsage;
  readonly connections: number;
}

/** Requests the feed process answers. */
export type FeedRpc = {
  /** Counters and usage now. */
  status: { arg: null; reply: FeedStatus };
  /** Stop sending frames (ticks and heartbeats) on every connection, so the pipeline can drain. */
  stall: { arg: null; reply: null };
  /** Send again. */
  resume: { arg: null; reply: null };
};

const config = childConfig<FeedProcessConfig>();
const bench = benchInstruments(config.anchorDate);
const accounts = config.accounts.map((a) => ({ apiKey: a.apiKey, accessToken: a.accessToken }));
const price = benchPriceSource(bench);

interface Feed {
  readonly url: string;
  counters(): FeedCounters;
  connections(): number;
  stall(): void;
  resume(): void;
  stop(): Promise<void>;
}

async function startFeed(): Promise<Feed> {
  if (config.feed === 'replay') {
    return startReplayFeed({
      accounts,
      tickIntervalMs: config.tickIntervalMs,
      price,
      probes: new Set(bench.probes.map((p) => p.instrumentToken)),
      now: wallNowMs,
    });
  }
  const simulator = await startKiteSimulator({
    accounts,
    tickIntervalMs: config.tickIntervalMs,
    ...(config.framesPerInterval !== undefined && { framesPerInterval: config.framesPerInterval }),
    heartbeatIntervalMs: 1000,
    price,
    now: wallNowMs,
  });
  return {
    url: simulator.url,
    counters: () => simulator.counters(),
    connections: () => simulator.connections().length,
    stall: () => simulator.stall(),
    resume: () => simulator.resume(),
    stop: () => simulator.stop(),
  };
}

const feed = await startFeed();

serveParent<FeedRpc>(
  {
    status: () => {
      const { framesSent, tickFrames, packetsSent, heartbeats } = feed.counters();
      return {
        atMs: wallNowMs(),
        counters: { framesSent, tickFrames, packetsSent, heartbeats },
        usage: processUsage(),
        connections: feed.connections(),
      };
    },
    stall: () => {
      feed.stall();
      return null;
    },
    resume: () => {
      feed.resume();
      return null;
    },
  },
  { url: feed.url } satisfies FeedReady,
  () => feed.stop(),
);
