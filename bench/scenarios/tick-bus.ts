import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { MemoryTickBus } from '../../shared/adapters/memory/memory-tick-bus.js';
import { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
import type { TickBus } from '../../shared/ports/tick-bus.js';
import { type RedisServer, startRedisServer } from '../../test/support/redis-server.js';
import { createLatencyHistogram, type Scenario, type ScenarioResult, type Target } from '../scenario.js';

/** A tick as the ingest task publishes it (about 330 bytes of JSON). */
const PAYLOAD = JSON.stringify({
  instrument_token: 12_345_678,
  tradingsymbol: 'NIFTY25JAN19000CE',
  last_price: 250.05,
  volume: 100_000,
  oi: 500_000,
  delta: 0.5512,
  gamma: 0.00201,
  theta: -15.52,
  vega: 45.21,
  rho: 3.12,
  iv: 0.1523,
  timestamp: '2025-01-08T09:15:00.000Z',
  is_mock: false,
  underlying_price: 19012.35,
  strike: 19000,
  expiry: '2025-01-30',
  option_type: 'CE',
});

/**
 * Publishes at `rate` messages/s for `seconds` (paced from a schedule: latency counts from when a
 * message was due, so a stalled publisher shows up as latency, not as a lower rate), or as fast as
 * the bus accepts with `window` publishes in flight when `rate` is 0. Every message carries its due
 * time; the subscriber records due → received in microseconds.
 */
async function measure(
  bus: TickBus,
  { rate, seconds, window }: { rate: number; seconds: number; window: number },
): Promise<Omit<ScenarioResult, 'variant' | 'params'>> {
  const histogramUs = createLatencyHistogram();
  const channel = `ticker:bench${Math.floor(Math.random() * 1e9)}:options`;
  let received = 0;
  let lastReceivedAt = 0;
  const subscription = await bus.psubscribe('ticker:*', (c, message) => {
    if (c !== channel) return;
    const now = performance.now();
    const due = Number(message.slice(0, message.indexOf('|')));
    histogramUs.recordValue(Math.max(1, Math.round((now - due) * 1000)));
    received++;
    lastReceivedAt = now;
  });

  const start = performance.now();
  const end = start + seconds * 1000;
  let sent = 0;
  let failed = 0;
  let inFlight = 0;
  const publish = (due: number) => {
    inFlight++;
    bus.publish(channel, `${due}|${PAYLOAD}`).then(
      () => inFlight--,
      () => {
        inFlight--;
        failed++;
      },
    );
    sent++;
  };
  while (performance.now() < end) {
    if (rate > 0) {
      const dueCount = Math.min(Math.floor(((performance.now() - start) / 1000) * rate), rate * seconds);
      while (sent < dueCount) publish(start + (sent / rate) * 1000);
    } else {
      while (inFlight < window) publish(performance.now());
    }
    await yieldToLoop();
  }
  const deadline = performance.now() + 5000;
  while ((received < sent - failed || inFlight > 0) && performance.now() < deadline) await yieldToLoop();
  await subscription.unsubscribe();
  const elapsedS = ((lastReceivedAt || performance.now()) - start) / 1000;
  return { histogramUs, throughputPerS: received / elapsedS, drops: sent - received };
}

/**
 * TC-WSS-041: a message published on the bus is received within 10 ms; at 20,000 messages/s, the
 * plan's highest single-account rate (TC-PERF-002), with nothing lost. The `-max` floods are reported.
 */
const targets: readonly Target[] = ['memory-paced', 'redis-paced'].flatMap((variant): Target[] => [
  { variant, figure: 'p99_ms', op: '<', value: 10, source: 'TC-WSS-041, at 20,000/s (TC-PERF-002)' },
  { variant, figure: 'drops', op: '=', value: 0, source: 'TC-PERF-001 (0 % drop rate)' },
]);

const scenario: Scenario = {
  name: 'tick-bus',
  targets,
  summary: 'TickBus publish → receive latency and throughput, in-memory and Redis (one process, loopback)',
  async run({ quick }) {
    const seconds = quick ? 2 : 5;
    const rate = 20_000;
    const window = 1000;
    const server: RedisServer | undefined = process.env.REDIS_URL ? undefined : await startRedisServer();
    const redisUrl = process.env.REDIS_URL ?? server?.url ?? '';
    const results: ScenarioResult[] = [];
    try {
      const buses: [string, () => Promise<TickBus>][] = [
        ['memory', async () => new MemoryTickBus()],
        ['redis', () => RedisTickBus.connect(redisUrl)],
      ];
      for (const [name, create] of buses) {
        const bus = await create();
        try {
          // Warm up the JIT and the connections before measuring.
          await measure(bus, { rate: 0, seconds: 0.3, window });
          const paced = await measure(bus, { rate, seconds, window });
          results.push({
            variant: `${name}-paced`,
            ...paced,
            params: { bus: name, rate_per_s: rate, seconds, payload_bytes: PAYLOAD.length },
          });
          const flood = await measure(bus, { rate: 0, seconds, window });
          results.push({
            variant: `${name}-max`,
            ...flood,
            params: { bus: name, in_flight: window, seconds, payload_bytes: PAYLOAD.length },
          });
        } finally {
          await bus.close();
        }
      }
    } finally {
      await server?.stop();
    }
    return results;
  },
};

export default scenario;
