import { encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import WebSocket from 'ws';
import { createLatencyHistogram } from '../scenario.js';
import { childConfig, type ProcessUsage, processUsage, serveParent } from './child-process.js';
import { MIN_TICK_GAP_BYTES, RECEIVED_AT } from './generated-tick.js';
import { wallNowMs } from './wall-clock.js';

/*
 * The WebSocket clients of the fan-out benchmark, in a process of their own: `clients`
 * connections to the gateway, each subscribed to its own tokens, in `tick` or `batch` delivery.
 * For every tick received (alone or in a batch) it records the time since the tick was published
 * (`received_at_ms`, cross-process wall clock). It scans the bytes of each message for the one
 * field it needs rather than decoding and parsing them, so its CPU cost per tick stays small next
 * to the fan-out's.
 */

/** What the parent passes. */
export interface ClientsProcessConfig {
  readonly url: string;
  readonly token: string;
}

/** One client to open. */
export interface ClientSpec {
  readonly tokens: readonly number[];
  readonly delivery: 'tick' | 'batch';
  readonly intervalMs?: number;
}

export interface ClientsReport {
  /** Publish → receipt, µs, compressed base64 HDR histogram. */
  readonly latencyUs: string;
  /** Ticks received (each tick of a batch counts). */
  readonly ticks: number;
  /** WebSocket messages received. */
  readonly messages: number;
  /** Ticks received per client: the smallest and largest count. */
  readonly minPerClient: number;
  readonly maxPerClient: number;
  readonly windowMs: number;
  readonly open: number;
  readonly usage: ProcessUsage;
}

/** Requests the clients process answers. */
export type ClientsRpc = {
  /** Opens the clients, waits for each `connected` greeting and `subscribed` (and `configured`) reply. */
  open: { arg: { readonly clients: readonly ClientSpec[] }; reply: number };
  reset: { arg: null; reply: number };
  report: { arg: null; reply: ClientsReport };
  close: { arg: null; reply: null };
};

const config = childConfig<ClientsProcessConfig>();
let latency: Histogram = createLatencyHistogram();
let ticks = 0;
let messages = 0;
let windowStart = wallNowMs();
const sockets: { ws: WebSocket; count: number }[] = [];

const RECEIVED_AT_BYTES = Buffer.from(RECEIVED_AT);

/**
 * The unsigned JSON number (digits and one `.`) starting at byte `from`, or NaN; read from the
 * bytes, as decoding them to a string first costs more than the rest of the scan.
 */
function numberAt(bytes: Buffer, from: number): number {
  let value = 0;
  let scale = 0;
  let end = from;
  for (; end < bytes.length; end++) {
    const c = bytes[end] as number;
    if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      scale *= 10;
    } else if (c === 46 && scale === 0) {
      scale = 1;
    } else {
      break;
    }
  }
  if (end === from) return Number.NaN;
  return scale > 1 ? value / scale : value;
}

/**
 * Every tick of one message, found in its bytes: decoding 400 MB/s of text would cost more than
 * the fan-out. After each tick's time the scan skips what the next tick must hold before its own.
 */
function onData(client: { count: number }, bytes: Buffer, now: number): void {
  messages++;
  let at = bytes.indexOf(RECEIVED_AT_BYTES);
  while (at >= 0) {
    const sent = numberAt(bytes, at + RECEIVED_AT_BYTES.length);
    if (Number.isFinite(sent)) latency.recordValue(Math.max(1, Math.round((now - sent) * 1000)));
    ticks++;
    client.count++;
    at = bytes.indexOf(RECEIVED_AT_BYTES, at + MIN_TICK_GAP_BYTES);
  }
}

/** Opens one client and resolves when it is greeted and subscribed. */
function openClient(spec: ClientSpec): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${config.url}?token=${encodeURIComponent(config.token)}`, { perMessageDeflate: false });
    const client = { ws, count: 0 };
    let stage: 'greeting' | 'configured' | 'subscribed' | 'ready' = 'greeting';
    const timer = setTimeout(() => reject(new Error(`client not ready (at ${stage})`)), 30_000);
    ws.on('error', (error) => reject(error));
    ws.on('message', (data: Buffer) => {
      const now = wallNowMs();
      if (stage === 'ready') {
        onData(client, data, now);
        return;
      }
      const text = data.toString();
      const type = (JSON.parse(text) as { type?: string }).type;
      if (stage === 'greeting' && type === 'connected') {
        if (spec.delivery === 'batch') {
          stage = 'configured';
          ws.send(JSON.stringify({ action: 'configure', delivery: 'batch', interval_ms: spec.intervalMs }));
        } else {
          stage = 'subscribed';
          ws.send(JSON.stringify({ action: 'subscribe', tokens: spec.tokens }));
        }
      } else if (stage === 'configured' && type === 'configured') {
        stage = 'subscribed';
        ws.send(JSON.stringify({ action: 'subscribe', tokens: spec.tokens }));
      } else if (stage === 'subscribed' && type === 'subscribed') {
        stage = 'ready';
        sockets.push(client);
        clearTimeout(timer);
        resolve();
      } else if (type === 'error') {
        clearTimeout(timer);
        reject(new Error(text));
      }
    });
  });
}

serveParent<ClientsRpc>(
  {
    open: async ({ clients }) => {
      // In waves, as a real fleet connects: API Gateway admits 500 new connections per second.
      for (let start = 0; start < clients.length; start += 100) {
        await Promise.all(clients.slice(start, start + 100).map(openClient));
      }
      return sockets.length;
    },
    reset: () => {
      latency = createLatencyHistogram();
      ticks = 0;
      messages = 0;
      for (const s of sockets) s.count = 0;
      windowStart = wallNowMs();
      return windowStart;
    },
    report: () => {
      const counts = sockets.map((s) => s.count);
      return {
        latencyUs: encodeIntoCompressedBase64(latency),
        ticks,
        messages,
        minPerClient: counts.length > 0 ? Math.min(...counts) : 0,
        maxPerClient: counts.length > 0 ? Math.max(...counts) : 0,
        windowMs: wallNowMs() - windowStart,
        open: sockets.filter((s) => s.ws.readyState === WebSocket.OPEN).length,
        usage: processUsage(),
      };
    },
    close: async () => {
      await Promise.all(
        sockets.splice(0).map(
          ({ ws }) =>
            new Promise<void>((resolve) => {
              ws.once('close', () => resolve());
              ws.close();
              setTimeout(() => {
                ws.terminate();
                resolve();
              }, 1000).unref();
            }),
        ),
      );
      return null;
    },
  },
  null,
  async () => {
    for (const { ws } of sockets) ws.terminate();
  },
);
