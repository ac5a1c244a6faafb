/**
 * A broker order as the platform last learnt it, in Kite's words (camelCase): the task's `result`
 * carries it, and every source of news about the order (the placement's answer, Kite's postbacks,
 * the `{"type":"order"}` frames on the ticker socket, a poll of the order book, the paper
 * exchange) produces one of these.
 */
export interface BrokerOrderState {
  readonly orderId: string;
  /** Kite's status: OPEN, TRIGGER PENDING, COMPLETE, CANCELLED, REJECTED or a transient one. */
  readonly status: string;
  readonly filledQuantity?: number;
  readonly pendingQuantity?: number;
  /** Absent until there is a fill. */
  readonly averagePrice?: number;
  readonly statusMessage?: string;
  /** Kite's `order_timestamp`, `YYYY-MM-DD HH:MM:SS` in IST, as Kite sends it. */
  readonly orderTimestamp?: string;
  readonly exchangeTimestamp?: string;
  /** Kite's `exchange_update_timestamp`: when the exchange last changed the order. */
  readonly exchangeUpdateTimestamp?: string;
  /** The order's terms now (a modify changes them). */
  readonly orderType?: string;
  readonly quantity?: number;
  readonly price?: number;
  readonly triggerPrice?: number;
}

/** Statuses after which the exchange changes nothing more. */
export const TERMINAL_BROKER_STATUSES: ReadonlySet<string> = new Set(['COMPLETE', 'CANCELLED', 'REJECTED']);

/**
 * What a broker call's answer says when the broker only acknowledged it (Kite's order endpoints
 * return the order id alone): the order's real status comes later, from the other sources.
 */
export const BROKER_ACKNOWLEDGEMENTS: ReadonlySet<string> = new Set(['PLACED', 'MODIFIED', 'CANCEL REQUESTED']);

/** Whether an order in `status` can still change (fill, be modified or cancelled). */
export function isOpenBrokerStatus(status: string): boolean {
  return !TERMINAL_BROKER_STATUSES.has(status);
}

/**
 * How far along an order is, for updates that carry the same exchange time (Kite's timestamps have
 * one-second resolution): an acknowledgement only (`PLACED`, `MODIFIED`) < the transient states
 * before the book < waiting for a trigger < in the book < finished.
 */
export function progressRank(status: string): number {
  if (TERMINAL_BROKER_STATUSES.has(status)) return 4;
  if (BROKER_ACKNOWLEDGEMENTS.has(status)) return 0;
  if (status === 'TRIGGER PENDING') return 2;
  if (status === 'OPEN' || status.startsWith('MODIFY') || status.startsWith('CANCEL')) return 3;
  return 1;
}

/** When the order last changed on the exchange, as comparable text; '' when unknown. */
function changedAt(order: BrokerOrderState): string {
  return order.exchangeUpdateTimestamp ?? order.exchangeTimestamp ?? order.orderTimestamp ?? '';
}

/**
 * The order after `update`, or `undefined` when the update brings nothing new: a repeat, or news
 * older than what is known. Updates reach the platform from several sources, late and repeated, so
 * the rule is monotonic and independent of arrival order:
 * - a finished order stays finished: only the same final status with more detail (a fill price the
 *   first report lacked) is taken;
 * - an update older by exchange time than the current state is ignored;
 * - at the same exchange time, an update that is less far along (by status, then fills) is ignored;
 * - the filled quantity never goes down.
 * Fields the update lacks keep their known values.
 */
export function mergeBrokerOrder(
  current: BrokerOrderState | undefined,
  update: BrokerOrderState,
): BrokerOrderState | undefined {
  if (current === undefined) return update;
  if (current.orderId !== update.orderId) return undefined;
  const currentFilled = current.filledQuantity ?? 0;
  const updateFilled = update.filledQuantity ?? 0;
  if (TERMINAL_BROKER_STATUSES.has(current.status)) {
    if (update.status !== current.status || updateFilled < currentFilled) return undefined;
  } else {
    const a = changedAt(update);
    const b = changedAt(current);
    if (a !== '' && b !== '' && a < b && !TERMINAL_BROKER_STATUSES.has(update.status)) return undefined;
    if (a === b || a === '' || b === '') {
      const ahead = progressRank(update.status) - progressRank(current.status);
      if (ahead < 0 || (ahead === 0 && updateFilled < currentFilled)) return undefined;
    }
  }
  const merged: BrokerOrderState = {
    ...current,
    ...definedFields(update),
    filledQuantity: Math.max(currentFilled, updateFilled),
  };
  return sameOrder(current, merged) ? undefined : merged;
}

function definedFields(update: BrokerOrderState): Partial<BrokerOrderState> {
  return Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)) as Partial<BrokerOrderState>;
}

const FIELDS: readonly (keyof BrokerOrderState)[] = [
  'orderId',
  'status',
  'filledQuantity',
  'pendingQuantity',
  'averagePrice',
  'statusMessage',
  'orderTimestamp',
  'exchangeTimestamp',
  'exchangeUpdateTimestamp',
  'orderType',
  'quantity',
  'price',
  'triggerPrice',
];

/** Whether two states say the same thing (a missing filled quantity counts as 0). */
export function sameOrder(a: BrokerOrderState, b: BrokerOrderState): boolean {
  return FIELDS.every((f) =>
    f === 'filledQuantity' ? (a.filledQuantity ?? 0) === (b.filledQuantity ?? 0) : a[f] === b[f],
  );
}
