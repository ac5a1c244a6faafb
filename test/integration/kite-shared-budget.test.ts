import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KiteBroker } from '../../shared/adapters/kite/kite-broker.js';
import { KiteRestClient } from '../../shared/adapters/kite/kite-rest-client.js';
import { RedisRateBudget } from '../../shared/adapters/redis/redis-rate-budget.js';
import { SystemClock } from '../../shared/adapters/system-clock.js';
import { KiteRateLimits } from '../../shared/domain/kite/rate-limiter.js';
import { createLogger } from '../../shared/logging.js';
import { BrokerError } from '../../shared/ports/broker.js';
import type { RateBudget } from '../../shared/ports/rate-budget.js';
import { startKiteRestServer } from '../support/kite-rest/kite-rest-server.js';
import { placeOrderTask } from '../support/order-fixtures.js';
import { busiestWindow } from '../support/rate-budget-contract.js';
import { sharedRedisUrl } from '../support/shared-services.js';

const logger = createLogger('test', { logLevel: 'SILENT', environment: 'test' });
/** One api key (account) per test: the fake counts Kite's limits per api key across tests. */
const ACCOUNTS = { ordersKey: 'token1', deadlineKey: 'token2', historicalKey: 'token3' } as const;
type ApiKey = keyof typeof ACCOUNTS;
let server: Awaited<ReturnType<typeof startKiteRestServer>>;
const budgets: RateBudget[] = [];
/** This file's budget keys apart: test files share one Redis and run at the same time. */
const keyPrefix = `test-kite-budget:${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  // The fake answers 429 beyond Kite's limits, as Kite does.
  server = await startKiteRestServer({ accounts: ACCOUNTS, enforceLimits: true });
});
afterAll(async () => {
  for (const budget of budgets.splice(0)) await budget.close();
  await server.stop();
});

/** One process's client (a Lambda's): its own connection to the shared Redis budget. */
async function processClient(apiKey: ApiKey): Promise<KiteRestClient> {
  const budget = await RedisRateBudget.connect(sharedRedisUrl(), { budgets: KiteRateLimits, keyPrefix });
  budgets.push(budget);
  return new KiteRestClient({
    // Orders are counted per account id: each test's account is its api key.
    accountId: apiKey,
    apiKey,
    accessToken: ACCOUNTS[apiKey],
    root: server.root,
    clock: new SystemClock(),
    logger,
    budget,
  });
}

let taskSeq = 0;
const placeTask = (account: ApiKey) => placeOrderTask(`budget-${++taskSeq}`, { account_id: account });

describe('Kite limits shared through Redis', () => {
  it('five order workers placing 60 orders on one account never put 11 in any second at Kite, and place each once', async () => {
    const workers = await Promise.all(
      Array.from({ length: 5 }, async () => new KiteBroker({ client: await processClient('ordersKey') })),
    );

    const deadline = Date.now() + 25_000;
    // Twelve orders each, all at once, as five Lambdas with a batch each would.
    const results = await Promise.all(
      workers.flatMap((broker) =>
        Array.from({ length: 12 }, () => broker.execute(placeTask('ordersKey'), { attempt: 1, deadline })),
      ),
    );
    // Kite's order ledger: every order call it took, a call it answered 429 not among them.
    const accepted = server.orderCallTimes('ordersKey');
    expect(new Set(results.map((r) => r.orderId)).size).toBe(60);
    expect(accepted).toHaveLength(60);
    // The budget is exact; a call that arrival jitter put 11th in Kite's second (five clients on one
    // busy event loop: 17 of 60 at load 11) is answered 429 and sent again, and placed once.
    expect(busiestWindow(accepted, 1000)).toBeLessThanOrEqual(10);
    // The budget held them back: 60 at 10 a second are granted over five seconds after the first ten.
    const spanMs = (accepted.at(-1) ?? 0) - (accepted[0] ?? 0);
    expect(spanMs).toBeGreaterThanOrEqual(4.5 * 1000);
  });

  it('fails a placement unsent, with the wait, when the budget has no room before the deadline', async () => {
    const [a, b] = await Promise.all([processClient('deadlineKey'), processClient('deadlineKey')]);
    if (!a || !b) throw new Error('two clients');
    const first = new KiteBroker({ client: a });
    await Promise.all(Array.from({ length: 10 }, () => first.execute(placeTask('deadlineKey'))));
    const before = server.requests.length;
    const error = await new KiteBroker({ client: b })
      .execute(placeTask('deadlineKey'), { attempt: 1, deadline: Date.now() + 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokerError);
    expect(error).toMatchObject({ kind: 'rate-limited', retryable: true, sent: false });
    expect((error as BrokerError).retryAfterMs).toBeGreaterThan(50);
    expect((error as BrokerError).retryAfterMs).toBeLessThanOrEqual(1000);
    expect(server.requests.length).toBe(before);
  });

  it('keeps two clients of one api key to 3 historical calls in any second together', async () => {
    const clients = await Promise.all([processClient('historicalKey'), processClient('historicalKey')]);
    const from = Date.UTC(2024, 0, 1);
    await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: 6 }, () =>
          client.historical(
            { instrumentToken: 256265, from, to: from + 86_400_000, interval: 'day', oi: false },
            { deadline: Date.now() + 20_000 },
          ),
        ),
      ),
    );
    const accepted = server.accepted('historicalKey', 'historical');
    expect(accepted).toHaveLength(12);
    expect(busiestWindow(accepted, 1000)).toBeLessThanOrEqual(3);
    // Granted at 0, 1, 2 and 3 s; arrivals a little closer when the first were slower to send.
    expect((accepted.at(-1) ?? 0) - (accepted[0] ?? 0)).toBeGreaterThanOrEqual(2.5 * 1000);
  });
});
