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

/** What the exchange's rules say of a task: the refused fields, else the quantities of the orders to place. */
export interface ExchangeCheck {
  readonly issues: readonly ExchangeIssue[];
  /** One quantity per order to place: `[quantity]`, or a sliced order's children; empty when refused or not a placement. */
  readonly slices: readonly number[];
}

/**
 * Why the exchange would refuse a placement, before anything reaches the broker: lot size,
 * market protection, freeze quantity and slicing (more than 10 slices is refused on `slice`), the
 * price band (`checkPlaceOrder`). One rule for `POST /orders` (a 400 naming each field) and the
 * worker (a `validation` dead letter with the same message), so an SQS producer is held to what
 * REST callers are. Modifies and cancels are the broker's to judge.
 */
export async function checkTask(deps: ExchangeCheckDependencies, task: OrderTask): Promise<ExchangeCheck> {
  if (task.operation !== 'place_order') return { issues: [], slices: [] };
  const p = task.params;
  const instrument = (await deps.instruments()).find(
    (i) => i.exchange === p.exchange && i.tradingsymbol === p.tradingsymbol,
  );
  if (instrument === undefined) {
    return {
      issues: [
        { path: 'params.tradingsymbol', message: `${p.exchange}:${p.tradingsymbol} is not in the instrument master` },
      ],
      slices: [],
    };
  }
  const reference = await deps.referencePrice(instrument.instrumentToken);
  const check = checkPlaceOrder(p, instrument, reference);
  if (!check.ok) {
    return { issues: check.issues.map((i) => ({ path: `params.${i.path}`, message: i.message })), slices: [] };
  }
  return { issues: [], slices: check.slices };
}

/** The fields of {@link checkTask} that the exchange would refuse; none when the task may be placed. */
export async function exchangeIssues(
  deps: ExchangeCheckDependencies,
  task: OrderTask,
): Promise<readonly ExchangeIssue[]> {
  return (await checkTask(deps, task)).issues;
}
