import type { OrderTask } from '../../contracts/order.js';
import {
  type BrokerOrderState,
  isOpenBrokerStatus,
  mergeBrokerOrder,
  progressRank,
  TERMINAL_BROKER_STATUSES,
} from './broker-order.js';

/**
 * A sliced order (`slice: true` above the freeze quantity): one task, up to 10 child orders at the
 * broker. Pure: what each child is, how its news is merged, and what the task as a whole says.
 */

/** A place-order task: the only kind that is sliced. */
export type PlaceOrderTask = Extract<OrderTask, { operation: 'place_order' }>;

/** One child of a sliced order, in the order they are placed. */
export interface OrderSlice {
  /** 1 for the first child: the numbering a trader reads ("slice 4 of 7"). */
  readonly index: number;
  /** Units this child was planned with (a whole number of lots, at most the freeze quantity). */
  readonly quantity: number;
  /** The child's broker order once placed, kept current like a single order's result. */
  readonly order?: BrokerOrderState;
  /** Why the broker refused to place it (tagged `[type] message`); a refused child has no order. */
  readonly error?: string;
}

/** A broker order state that may stand for several children: the aggregate, and `slices` itself. */
export interface SlicedOrderState extends BrokerOrderState {
  readonly slices?: readonly OrderSlice[];
}

/** Status of a child that the broker refused to place: no order exists, and none will. */
export const REFUSED_SLICE_STATUS = 'REJECTED';

/** How the error of a child begins when it was never sent because an earlier child was refused. */
export const NOT_PLACED = 'not placed:';

/**
 * A child's status for clients: its broker order's, `PENDING` before it is placed, `REJECTED` when
 * the broker refused it, `NOT PLACED` when it was never sent (a child before it was refused).
 */
export function sliceStatus(slice: OrderSlice): string {
  if (slice.order !== undefined) return slice.order.status;
  if (slice.error === undefined) return 'PENDING';
  return slice.error.startsWith(NOT_PLACED) ? 'NOT PLACED' : REFUSED_SLICE_STATUS;
}

/**
 * The business key of child `index`: derived from the task's key, so a retry, a redelivery or a
 * second task with the same key finds the same child (the paper order id and Kite's tag follow it).
 */
export function sliceIdempotencyKey(idempotencyKey: string, index: number): string {
  return `${idempotencyKey}#slice-${index}`;
}

/**
 * The single order child `index` is, as the broker is asked to place it: the task's terms with the
 * child's quantity and key. `slice` is dropped (the broker places exactly this), and so is the
 * caller's `tag`: each child carries its own tag from its key, the only way a retry can tell which
 * children a lost answer placed.
 */
export function childTask(task: PlaceOrderTask, index: number, quantity: number): PlaceOrderTask {
  const { slice: _slice, tag: _tag, ...params } = task.params;
  return {
    ...task,
    task_id: `${task.task_id}#${index}`,
    idempotency_key: sliceIdempotencyKey(task.idempotency_key, index),
    params: { ...params, quantity },
  };
}

/** The slices of a plan, none placed yet. */
export function planSlices(quantities: readonly number[]): OrderSlice[] {
  return quantities.map((quantity, i) => ({ index: i + 1, quantity }));
}

/** The first child not placed nor refused, or undefined when every child has an outcome. */
export function nextSlice(slices: readonly OrderSlice[]): OrderSlice | undefined {
  return slices.find((s) => s.order === undefined && s.error === undefined);
}

/** The slices with child `index` given `change`. */
export function withSlice(
  slices: readonly OrderSlice[],
  index: number,
  change: Pick<OrderSlice, 'order'> | Pick<OrderSlice, 'error'>,
): OrderSlice[] {
  return slices.map((s) => (s.index === index ? { index: s.index, quantity: s.quantity, ...change } : s));
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

/** Units of a child still working at the exchange. */
function pendingOf(slice: OrderSlice): number {
  const order = slice.order;
  if (order === undefined || TERMINAL_BROKER_STATUSES.has(order.status)) return 0;
  return order.pendingQuantity ?? Math.max(0, (order.quantity ?? slice.quantity) - (order.filledQuantity ?? 0));
}

/**
 * The one status a client reads for the whole sliced order, in Kite's words so every rule about
 * open and finished orders holds for it:
 * - every placed child in one status, none refused: that status;
 * - some child still open: the furthest along of them and of the rest, shown as `OPEN` once any
 *   child is in the book or finished (an order partly done is still working), so it never moves
 *   back while the children move forward;
 * - all finished: `COMPLETE` if any child filled, else `CANCELLED` if any was cancelled, else
 *   `REJECTED`. `filled_quantity` and each child say how much.
 */
export function aggregateStatus(slices: readonly OrderSlice[]): string {
  const statuses = slices.flatMap((s) => (s.order === undefined ? [] : [s.order.status]));
  const refused = slices.some((s) => s.error !== undefined);
  const first = statuses[0];
  if (first === undefined) return REFUSED_SLICE_STATUS;
  if (!refused && statuses.every((s) => s === first)) return first;
  if (statuses.some(isOpenBrokerStatus)) {
    const furthest = statuses.reduce((a, b) => (progressRank(b) > progressRank(a) ? b : a));
    return progressRank(furthest) >= progressRank('OPEN') ? 'OPEN' : furthest;
  }
  if (statuses.includes('COMPLETE')) return 'COMPLETE';
  if (statuses.includes('CANCELLED')) return 'CANCELLED';
  return REFUSED_SLICE_STATUS;
}

/**
 * The whole order as one broker order state: the first placed child's id and terms, the aggregate
 * status, fills and pending summed, the average price weighted by fills, the planned quantity, the
 * latest exchange time, and `slices` itself. `statusMessage` says what was refused, if anything.
 */
export function aggregateSlices(slices: readonly OrderSlice[]): SlicedOrderState {
  const placed = slices.flatMap((s) => (s.order === undefined ? [] : [s.order]));
  const first = placed[0];
  const filled = sum(placed.map((o) => o.filledQuantity ?? 0));
  const priced = placed.filter((o) => o.averagePrice !== undefined && (o.filledQuantity ?? 0) > 0);
  const pricedFill = sum(priced.map((o) => o.filledQuantity ?? 0));
  const averagePrice =
    pricedFill > 0 ? sum(priced.map((o) => (o.averagePrice ?? 0) * (o.filledQuantity ?? 0))) / pricedFill : undefined;
  const refused = slices.find((s) => s.error !== undefined);
  const latest = placed
    .map((o) => o.exchangeUpdateTimestamp ?? o.exchangeTimestamp ?? o.orderTimestamp)
    .filter((t): t is string => t !== undefined)
    .sort()
    .at(-1);
  return {
    orderId: first?.orderId ?? '',
    status: aggregateStatus(slices),
    filledQuantity: filled,
    pendingQuantity: sum(slices.map(pendingOf)),
    ...(averagePrice !== undefined && { averagePrice: Math.round(averagePrice * 100) / 100 }),
    ...(refused !== undefined && {
      statusMessage: `${placed.length} of ${slices.length} slices placed; slice ${refused.index} was refused: ${refused.error}`,
    }),
    ...(first?.orderTimestamp !== undefined && { orderTimestamp: first.orderTimestamp }),
    ...(first?.exchangeTimestamp !== undefined && { exchangeTimestamp: first.exchangeTimestamp }),
    ...(latest !== undefined && { exchangeUpdateTimestamp: latest }),
    ...(first?.orderType !== undefined && { orderType: first.orderType }),
    quantity: sum(slices.map((s) => s.quantity)),
    ...(first?.price !== undefined && { price: first.price }),
    ...(first?.triggerPrice !== undefined && { triggerPrice: first.triggerPrice }),
    slices,
  };
}

/**
 * A task's result after news about one of its broker orders, or undefined when it brings nothing
 * new. A single order merges as {@link mergeBrokerOrder}; a sliced one merges the news into the
 * child with that order id only (monotonic, as for a single order) and recomputes the aggregate,
 * so news of one child never touches another. Fields beside the order (`paper`) are kept.
 */
export function mergeOrderResult<T extends SlicedOrderState>(current: T, update: BrokerOrderState): T | undefined {
  if (current.slices === undefined) {
    const merged = mergeBrokerOrder(current, update);
    return merged === undefined ? undefined : ({ ...current, ...merged } as T);
  }
  const child = current.slices.find((s) => s.order?.orderId === update.orderId);
  if (child?.order === undefined) return undefined;
  const merged = mergeBrokerOrder(child.order, update);
  if (merged === undefined) return undefined;
  const slices = withSlice(current.slices, child.index, { order: merged });
  return { ...withoutOrderFields(current), ...aggregateSlices(slices) } as T;
}

/** Everything of a result that is not the order itself (e.g. `paper`), so an aggregate can replace the rest. */
function withoutOrderFields<T extends SlicedOrderState>(result: T): Partial<T> {
  const {
    orderId: _o,
    status: _s,
    filledQuantity: _f,
    pendingQuantity: _p,
    averagePrice: _a,
    statusMessage: _m,
    orderTimestamp: _ot,
    exchangeTimestamp: _et,
    exchangeUpdateTimestamp: _eu,
    orderType: _t,
    quantity: _q,
    price: _pr,
    triggerPrice: _tp,
    slices: _sl,
    ...rest
  } = result;
  return rest as Partial<T>;
}

/** An order the platform follows: the task that placed it (a child's own task for a slice) and its state. */
export interface FollowedOrder {
  readonly task: OrderTask;
  readonly state: BrokerOrderState;
}

/**
 * The broker orders of a task's result as the broker knows them: the one order, or each placed
 * child with its child task (whose quantity and key are the child's). `open` keeps only those
 * that can still change, for the order-book poll.
 */
export function brokerOrdersOf(
  task: OrderTask,
  result: SlicedOrderState | undefined,
  options: { readonly open?: boolean } = {},
): FollowedOrder[] {
  if (result === undefined) return [];
  const keep = (state: BrokerOrderState) => !options.open || isOpenBrokerStatus(state.status);
  if (result.slices === undefined || task.operation !== 'place_order') {
    const { slices: _slices, ...state } = result;
    return keep(state) ? [{ task, state: withoutExtras(state) }] : [];
  }
  return result.slices.flatMap((s) =>
    s.order !== undefined && keep(s.order) ? [{ task: childTask(task, s.index, s.quantity), state: s.order }] : [],
  );
}

/** A state without fields beside the order (a result's `paper`). */
function withoutExtras(state: BrokerOrderState & { paper?: boolean }): BrokerOrderState {
  const { paper: _paper, ...order } = state;
  return order;
}

/** The broker order `orderId` of a task's result (a child of a sliced order, or the one order). */
export function brokerOrderOf(
  task: OrderTask,
  result: SlicedOrderState | undefined,
  orderId: string,
): FollowedOrder | undefined {
  return brokerOrdersOf(task, result).find((o) => o.state.orderId === orderId);
}
