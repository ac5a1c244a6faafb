import type { Scenario, ScenarioResult, Target } from '../scenario.js';
import { clientSpecs, type FanoutWindow, withFanoutRig } from '../support/fanout-rig.js';

/*
 * `fanout-latency`: end to end from a tick's publishing on the bus to its arrival at a WebSocket
 * client, through the fan-out and the local gateway (see `bench/support/fanout-rig.ts`).
 *
 * - `latency`: 1,000 clients, each subscribed to 20 of 500 instruments (40 subscribers per
 *   instrument), 2,500 ticks/s: 100,000 deliveries/s. Target p50 < 5 ms, p99 < 25 ms.
 * - `tc-wss-032`: 10 clients subscribed to the same 100 instruments, 100 ticks/s: every client
 *   gets every tick, p99 < 10 ms.
 *
 * The `latency` result also prints the cloud cost model: API Gateway has no broadcast, so every
 * message to a client is one PostToConnection against the account's 10,000 RPS quota.
 */

const QUOTA_RPS = 10_000;

function counts(window: FanoutWindow, subscribersPerTick: number) {
  const expected = window.published * subscribersPerTick;
  return {
    expected,
    missing: Math.max(0, expected - window.report.ticks),
    deliveredPerS: window.report.ticks / window.seconds,
  };
}

async function latency(quick: boolean): Promise<ScenarioResult> {
  const clients = 1000;
  const perClient = 20;
  const instruments = 500;
  const ticksPerS = 2500;
  const subscribers = (clients * perClient) / instruments;
  return withFanoutRig(instruments, async (rig) => {
    await rig.openClients(clientSpecs(clients, perClient, instruments));
    const window = await rig.window(ticksPerS, quick ? 1 : 3, quick ? 3 : 10);
    const { expected, missing, deliveredPerS } = counts(window, subscribers);
    const batchIntervalMs = 250;
    const tickModePosts = ticksPerS * subscribers;
    const batchModePosts = clients * (1000 / batchIntervalMs);
    return {
      variant: 'latency',
      histogramUs: window.latency,
      throughputPerS: deliveredPerS,
      drops: missing + window.dropped,
      params: {
        clients,
        tokens_per_client: perClient,
        instruments,
        ticks_per_s: ticksPerS,
        deliveries_per_s: tickModePosts,
        seconds: Math.round(window.seconds * 10) / 10,
        delivery: 'tick',
        bus: 'redis',
      },
      extra: {
        measures: 'tick published on the bus (generator process) -> WebSocket client process received it',
        expected_deliveries: expected,
        received: window.report.ticks,
        missing,
        fanout_dropped: window.dropped,
        posts: window.posts,
        cpu_pct_of_core: `fanout+gateway ${window.fanoutCpuPct}, clients ${window.clientsCpuPct}`,
        cost_model_quota_rps: QUOTA_RPS,
        cost_model_tick_mode_posts_per_s: tickModePosts,
        cost_model_tick_mode_quota_share: `${Math.round((tickModePosts / QUOTA_RPS) * 100)} %`,
        cost_model_batch_250ms_posts_per_s: batchModePosts,
        cost_model_batch_250ms_quota_share: `${Math.round((batchModePosts / QUOTA_RPS) * 100)} %`,
        cost_model_batch_250ms_clients_per_quota: Math.floor(QUOTA_RPS / (1000 / batchIntervalMs)),
      },
    };
  });
}

async function everyClientEveryTick(quick: boolean): Promise<ScenarioResult> {
  const clients = 10;
  const instruments = 100;
  const ticksPerS = 100;
  return withFanoutRig(instruments, async (rig) => {
    await rig.openClients(clientSpecs(clients, instruments, instruments));
    const window = await rig.window(ticksPerS, 1, quick ? 3 : 10);
    const { expected, missing, deliveredPerS } = counts(window, clients);
    return {
      variant: 'tc-wss-032',
      histogramUs: window.latency,
      throughputPerS: deliveredPerS,
      drops: missing + window.dropped,
      params: { clients, instruments, ticks_per_s: ticksPerS, seconds: Math.round(window.seconds * 10) / 10 },
      extra: {
        published: window.published,
        per_client_min: window.report.minPerClient,
        per_client_max: window.report.maxPerClient,
        // Every client gets every tick: the fewest any client got short of what was published, and the most over it.
        per_client_shortfall: window.published - window.report.minPerClient,
        per_client_excess: window.report.maxPerClient - window.published,
        expected_deliveries: expected,
        missing,
      },
    };
  });
}

/**
 * The fan-out issue's p50 < 5 ms and p99 < 25 ms at 100,000 deliveries/s, every delivery made;
 * TC-WSS-032 with the p99 < 10 ms (the plan's 200 ms is the older, looser figure).
 */
const targets: readonly Target[] = [
  { variant: 'latency', figure: 'p50_ms', op: '<', value: 5, source: 'fan-out issue (100,000 deliveries/s)' },
  { variant: 'latency', figure: 'p99_ms', op: '<', value: 25, source: 'fan-out issue (100,000 deliveries/s)' },
  { variant: 'latency', figure: 'drops', op: '=', value: 0, source: 'fan-out issue (100,000 deliveries/s)' },
  { variant: 'tc-wss-032', figure: 'p99_ms', op: '<', value: 10, source: 'TC-WSS-032, fan-out issue' },
  { variant: 'tc-wss-032', figure: 'per_client_shortfall', op: '=', value: 0, source: 'TC-WSS-032' },
  { variant: 'tc-wss-032', figure: 'per_client_excess', op: '=', value: 0, source: 'TC-WSS-032' },
  { variant: 'tc-wss-032', figure: 'drops', op: '=', value: 0, source: 'TC-WSS-032' },
];

const scenario: Scenario = {
  name: 'fanout-latency',
  targets,
  summary:
    'Bus → Fanout → local WebSocket gateway → clients, in separate processes: 1,000 clients × 20 of 500 instruments at 2,500 ticks/s, TC-WSS-032, cost model',
  async run({ quick }) {
    return [await latency(quick), await everyClientEveryTick(quick)];
  },
};

export default scenario;
