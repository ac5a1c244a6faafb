import { KiteBroker } from '../../../shared/adapters/kite/kite-broker.js';
import { KiteRestClient } from '../../../shared/adapters/kite/kite-rest-client.js';
import { MemoryRateBudget } from '../../../shared/adapters/memory/memory-rate-budget.js';
import { SystemClock } from '../../../shared/adapters/system-clock.js';
import { KiteRateLimits } from '../../../shared/domain/kite/rate-limiter.js';
import { createLogger } from '../../../shared/logging.js';

/** The Kite broker of one account against the fake Kite at `root`: Kite's limits in memory, the system clock, silent logs. */
export function fakeKiteBroker(account: {
  accountId: string;
  apiKey: string;
  accessToken: string;
  root: string;
}): KiteBroker {
  return new KiteBroker({
    client: new KiteRestClient({
      ...account,
      timeoutMs: 5000,
      clock: new SystemClock(),
      budget: new MemoryRateBudget({ budgets: KiteRateLimits }),
      logger: createLogger('fake-kite-broker', { logLevel: 'SILENT', environment: 'test' }),
    }),
  });
}
