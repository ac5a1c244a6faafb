import type { OrderTask } from '../../shared/contracts/order.js';
import { checkPlaceOrder } from '../../shared/domain/orders/exchange-rules.js';
import type { Instrument } from '../../shared/ports/market-data.js';

/** What checking a task against the exchange's rules reads. */
export interface ExchangeCheckDependencies {
  /** The instrument master (lot and tick sizes). */
  readonly instruments: () => Promise<readonly Instrument[]>;
  /** The reference price of a token (the 30-s average trade price, else the last price). */
  readonly referencePrice: (token: number) => Promise<number | undefined>;
}

/** A field of the task that the exchange would refuse, by its path in the task (`params.quantity`). */
export interface ExchangeIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * Why the exchange would refuse a placement, before anything reaches the broker: lot size,
 * market protection, freeze quantity and slicing, the price band (`checkPlaceOrder`). One rule for
 * `POST /orders` (a 400 naming each field) and the worker (a `validation` dead letter with the
 * same message), so an SQS producer is held to what REST callers are. Modifies and cancels are the
 * broker's to judge; slicing into child orders is not placed by the worker yet, so a task that
 * needs it is refused on `slice`.
 */
export async function exchangeIssues(
  deps: ExchangeCheckDependencies,
  task: OrderTask,
): Promise<readonly ExchangeIssue[]> {
  if (task.operation !== 'place_order') return [];
  const p = task.params;
  const instrument = (await deps.instruments()).find(
    (i) => i.exchange === p.exchange && i.tradingsymbol === p.tradingsymbol,
  );
  if (instrument === undefined) {
    return [
      { path: 'params.tradingsymbol', message: `${p.exchange}:${p.tradingsymbol} is not in the instrument master` },
    ];
  }
  const reference = await deps.referencePrice(instrument.instrumentToken);
  const check = checkPlaceOrder(p, instrument, reference);
  if (!check.ok) return check.issues.map((i) => ({ path: `params.${i.path}`, message: i.message }));
  if (check.slices.length > 1) {
    return [
      {
        path: 'params.slice',
        message: `needs ${check.slices.length} child orders (${check.slices.join(', ')}), which this platform does not place yet: send them as separate tasks`,
      },
    ];
  }
  return [];
}
