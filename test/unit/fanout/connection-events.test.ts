import { describe, expect, it } from 'vitest';
import { ConnectionEvents } from '../../../ingest-task/fanout/connection-events.js';
import { Fanout } from '../../../ingest-task/fanout/fanout.js';
import { MemoryConnectionGateway } from '../../../shared/adapters/memory/memory-connection-gateway.js';
import { MemoryLiveStateStore } from '../../../shared/adapters/memory/memory-live-state-store.js';
import { MemoryTickBus } from '../../../shared/adapters/memory/memory-tick-bus.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { ServerMessage } from '../../../shared/contracts/websocket.js';
import { createLogger } from '../../../shared/logging.js';
import { waitFor } from '../../support/wait.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
const clock = new SystemClock();

function setUp() {
  const bus = new MemoryTickBus();
  const gateway = new MemoryConnectionGateway();
  const fanout = new Fanout({ bus, gateway, clock, logger });
  const events = new ConnectionEvents({ bus, fanout, gateway, state: new MemoryLiveStateStore(), clock, logger });
  gateway.connect('c1');
  fanout.addConnection('c1');
  const change = (type: 'subscribed' | 'unsubscribed', version: number, tokens: number[], all: number[]) =>
    events.handle(JSON.stringify({ type, connection_id: 'c1', tokens, version, all, total: all.length }));
  const messages = () => gateway.received('c1').map((m) => ServerMessage.parse(JSON.parse(m)));
  return { fanout, change, messages };
}

describe('ConnectionEvents', () => {
  it('keeps the latest token change when the events of concurrent handlers arrive out of order, and confirms each', async () => {
    const { fanout, change, messages } = setUp();
    // Sent: subscribe [1, 2] (version 1), then unsubscribe [1] (version 2); heard in reverse.
    await change('unsubscribed', 2, [1], [2]);
    await change('subscribed', 1, [1, 2], [1, 2]);
    expect(fanout.subscribe('c1', []).sort()).toEqual([2]);
    await waitFor(() => messages().length === 2, { message: 'both confirmations' });
    expect(messages()).toEqual([
      { type: 'unsubscribed', tokens: [1], total: 1 },
      { type: 'subscribed', tokens: [1, 2], total: 2 },
    ]);
  });

  it('applies a newer version over an older one, replacing the whole token list', async () => {
    const { fanout, change } = setUp();
    await change('subscribed', 1, [1, 2, 3], [1, 2, 3]);
    await change('unsubscribed', 3, [2], [1, 3]);
    await change('subscribed', 2, [4], [1, 2, 3, 4]);
    expect(fanout.subscribe('c1', []).sort()).toEqual([1, 3]);
    expect(fanout.tokens().sort()).toEqual([1, 3]);
  });
});
