import { describe, expect, it } from 'vitest';
import { type BrokerOrderState, mergeBrokerOrder, sameOrder } from '../../../shared/domain/orders/broker-order.js';
import { classifyOrderError } from '../../../shared/domain/orders/order-errors.js';
import {
  attemptsThisRound,
  deadLetterErrorType,
  errorTypeOf,
  isFinished,
  statusesBefore,
} from '../../../shared/domain/orders/order-status.js';
import { staleAfterSeconds } from '../../../shared/domain/orders/stale-orders.js';
import { BrokerError } from '../../../shared/ports/broker.js';
import type { OrderRecord } from '../../../shared/ports/orders.js';
import { placeOrderTask } from '../../support/order-fixtures.js';

const AT = '2026-01-06 10:00:00';
const state = (status: string, extra: Partial<BrokerOrderState> = {}): BrokerOrderState => ({
  orderId: 'o-1',
  status,
  exchangeUpdateTimestamp: AT,
  ...extra,
});

describe('mergeBrokerOrder: how far along an order is, at one exchange second', () => {
  // Each status is further along than every one before it.
  const chain = ['PLACED', 'PUT ORDER REQ RECEIVED', 'TRIGGER PENDING', 'OPEN', 'COMPLETE'];
  for (let i = 0; i < chain.length - 1; i++) {
    for (let j = i + 1; j < chain.length; j++) {
      const [behind, ahead] = [chain[i] as string, chain[j] as string];
      it(`takes ${ahead} over ${behind}, and ignores ${behind} after ${ahead}`, () => {
        expect(mergeBrokerOrder(state(behind), state(ahead))?.status).toBe(ahead);
        expect(mergeBrokerOrder(state(ahead), state(behind))).toBeUndefined();
      });
    }
  }

  it('ranks the pending modify and cancel states with OPEN (in the book)', () => {
    for (const inBook of ['MODIFY PENDING', 'CANCEL PENDING', 'MODIFY VALIDATION PENDING']) {
      expect(mergeBrokerOrder(state(inBook), state('TRIGGER PENDING'))).toBeUndefined();
      expect(mergeBrokerOrder(state('TRIGGER PENDING'), state(inBook))?.status).toBe(inBook);
      expect(mergeBrokerOrder(state(inBook), state('OPEN'))?.status).toBe('OPEN');
      expect(mergeBrokerOrder(state('OPEN'), state(inBook))?.status).toBe(inBook);
    }
  });

  it('at the same rank takes more fills, the same fills with new detail, never fewer fills', () => {
    const open = state('OPEN', { filledQuantity: 65 });
    expect(mergeBrokerOrder(open, state('OPEN', { filledQuantity: 130 }))?.filledQuantity).toBe(130);
    expect(mergeBrokerOrder(open, state('OPEN', { filledQuantity: 65, averagePrice: 101.5 }))?.averagePrice).toBe(
      101.5,
    );
    expect(mergeBrokerOrder(open, state('OPEN', { filledQuantity: 0, averagePrice: 99 }))).toBeUndefined();
  });
});

describe('mergeBrokerOrder: exchange time', () => {
  it('reads the exchange update time first, then the exchange time, then the order time', () => {
    const current = state('OPEN', {
      exchangeUpdateTimestamp: '2026-01-06 10:00:05',
      exchangeTimestamp: '2026-01-06 10:00:00',
    });
    // Older by its update time, though its exchange time is later: ignored.
    const older = state('TRIGGER PENDING', {
      exchangeUpdateTimestamp: '2026-01-06 10:00:03',
      exchangeTimestamp: '2026-01-06 10:00:09',
    });
    expect(mergeBrokerOrder(current, older)).toBeUndefined();
    const byExchangeTime = { orderId: 'o-1', status: 'OPEN', exchangeTimestamp: '2026-01-06 10:00:05' };
    expect(
      mergeBrokerOrder(byExchangeTime, {
        orderId: 'o-1',
        status: 'TRIGGER PENDING',
        exchangeTimestamp: '2026-01-06 10:00:04',
        orderTimestamp: '2026-01-06 10:00:09',
      }),
    ).toBeUndefined();
    const byOrderTime = { orderId: 'o-1', status: 'OPEN', orderTimestamp: '2026-01-06 10:00:05' };
    expect(
      mergeBrokerOrder(byOrderTime, {
        orderId: 'o-1',
        status: 'TRIGGER PENDING',
        orderTimestamp: '2026-01-06 10:00:04',
      }),
    ).toBeUndefined();
  });

  it('takes a newer update even when it is less far along (a modify back to a trigger)', () => {
    const merged = mergeBrokerOrder(
      state('OPEN'),
      state('TRIGGER PENDING', { exchangeUpdateTimestamp: '2026-01-06 10:00:07' }),
    );
    expect(merged?.status).toBe('TRIGGER PENDING');
  });

  it('takes a final status even when it is stamped older', () => {
    const merged = mergeBrokerOrder(
      state('OPEN', { exchangeUpdateTimestamp: '2026-01-06 10:00:05' }),
      state('COMPLETE', { exchangeUpdateTimestamp: '2026-01-06 10:00:01' }),
    );
    expect(merged?.status).toBe('COMPLETE');
  });

  it('falls back to how far along when either side has no time', () => {
    const untimed = { orderId: 'o-1', status: 'OPEN' };
    expect(mergeBrokerOrder(untimed, state('PUT ORDER REQ RECEIVED'))).toBeUndefined();
    expect(mergeBrokerOrder(state('OPEN'), { orderId: 'o-1', status: 'PLACED' })).toBeUndefined();
    expect(mergeBrokerOrder(untimed, state('COMPLETE'))?.status).toBe('COMPLETE');
  });
});

describe('mergeBrokerOrder: identity and finished orders', () => {
  it('takes the first state as it is, and nothing about another order', () => {
    const first = state('OPEN');
    expect(mergeBrokerOrder(undefined, first)).toBe(first);
    expect(mergeBrokerOrder(first, { ...state('COMPLETE'), orderId: 'o-2' })).toBeUndefined();
  });

  it('keeps a finished order: only the same final status with as many fills and more detail', () => {
    const done = state('COMPLETE', { filledQuantity: 65 });
    expect(mergeBrokerOrder(done, state('CANCELLED', { filledQuantity: 65 }))).toBeUndefined();
    expect(mergeBrokerOrder(done, state('COMPLETE', { filledQuantity: 0, averagePrice: 101 }))).toBeUndefined();
    const detailed = mergeBrokerOrder(done, state('COMPLETE', { filledQuantity: 65, averagePrice: 101.25 }));
    expect(detailed).toMatchObject({ status: 'COMPLETE', filledQuantity: 65, averagePrice: 101.25 });
    // Later news of it, older or newer, changes nothing else.
    expect(mergeBrokerOrder(done, state('OPEN', { exchangeUpdateTimestamp: '2026-01-06 11:00:00' }))).toBeUndefined();
  });

  it('keeps the known fields an update lacks, and reports a repeat as nothing new', () => {
    const current = state('OPEN', { price: 95, quantity: 65, statusMessage: 'ok' });
    const merged = mergeBrokerOrder(current, state('OPEN', { filledQuantity: 65 }));
    expect(merged).toMatchObject({ price: 95, quantity: 65, statusMessage: 'ok', filledQuantity: 65 });
    expect(mergeBrokerOrder(current, { ...current })).toBeUndefined();
  });
});

describe('sameOrder', () => {
  it('counts a missing filled quantity as none, and any other differing field as a change', () => {
    expect(sameOrder(state('OPEN'), state('OPEN', { filledQuantity: 0 }))).toBe(true);
    expect(sameOrder(state('OPEN'), state('OPEN', { filledQuantity: 1 }))).toBe(false);
    expect(sameOrder(state('OPEN'), state('OPEN', { triggerPrice: 90 }))).toBe(false);
    expect(sameOrder(state('OPEN'), state('OPEN', { orderType: 'SL' }))).toBe(false);
    expect(sameOrder(state('OPEN'), state('OPEN', { pendingQuantity: 65 }))).toBe(false);
  });
});

describe('classifyOrderError', () => {
  it('keeps the kind of a BrokerError and of any object carrying a broker kind', () => {
    expect(classifyOrderError(new BrokerError('timeout', 'slow'))).toEqual({
      type: 'timeout',
      message: 'slow',
      retryable: true,
      tripsBreaker: true,
    });
    expect(classifyOrderError({ kind: 'margin', message: 'Insufficient funds' })).toEqual({
      type: 'margin',
      message: 'Insufficient funds',
      retryable: false,
      tripsBreaker: false,
    });
  });

  it('makes anything unclassified internal and never retried, keeping its message', () => {
    const internal = { type: 'internal', retryable: false, tripsBreaker: false };
    // Kite's own rejection shape: a plain object whose error_type is not a broker kind.
    expect(classifyOrderError({ status: 'error', message: 'Gateway', error_type: 'NetworkException' })).toEqual({
      ...internal,
      message: 'Gateway',
    });
    expect(classifyOrderError({ kind: 'meteor', message: 'boom' })).toEqual({ ...internal, message: 'boom' });
    expect(classifyOrderError({ kind: 42 })).toEqual({ ...internal, message: '[object Object]' });
    expect(classifyOrderError(new Error('bug'))).toEqual({ ...internal, message: 'bug' });
    expect(classifyOrderError('text')).toEqual({ ...internal, message: 'text' });
    expect(classifyOrderError(null)).toEqual({ ...internal, message: 'null' });
    expect(classifyOrderError(undefined)).toEqual({ ...internal, message: 'undefined' });
    expect(classifyOrderError({ message: 7 })).toEqual({ ...internal, message: '7' });
  });
});

describe('order status helpers', () => {
  const record = (attempts: number[], redrivenAt?: number): OrderRecord => ({
    task: placeOrderTask('t-1'),
    status: 'RETRYING',
    attempts: attempts.map((at, i) => ({ attempt: i + 1, at })),
    createdAt: 0,
    updatedAt: 0,
    ...(redrivenAt !== undefined && { redrivenAt }),
  });

  it('counts the attempts since the last redrive, the one at the redrive instant included', () => {
    expect(attemptsThisRound(record([10, 20, 30]))).toBe(3);
    expect(attemptsThisRound(record([10, 20, 30], 20))).toBe(2);
    expect(attemptsThisRound(record([10, 20], 25))).toBe(0);
  });

  it('reads the error type only from a leading [type] tag', () => {
    expect(errorTypeOf('[network] reset')).toBe('network');
    expect(errorTypeOf('worker said [network] reset')).toBeUndefined();
    expect(errorTypeOf('no tag')).toBeUndefined();
    expect(errorTypeOf(undefined)).toBeUndefined();
    expect(deadLetterErrorType({ lastError: '[validation] bad' })).toBe('validation');
    expect(deadLetterErrorType({})).toBeUndefined();
  });

  it('knows which statuses are final and which may precede each', () => {
    expect(
      ['PENDING', 'RUNNING', 'RETRYING', 'COMPLETED', 'DEAD_LETTER'].filter((s) => isFinished(s as never)),
    ).toEqual(['COMPLETED', 'DEAD_LETTER']);
    expect(statusesBefore('RUNNING')).toEqual(['PENDING', 'RUNNING', 'RETRYING']);
    expect(statusesBefore('PENDING')).toEqual(['DEAD_LETTER']);
    expect(statusesBefore('COMPLETED')).toEqual(['RUNNING']);
  });
});

describe('staleAfterSeconds', () => {
  const retry = { retryBaseSeconds: 1, retryMaxSeconds: 30 };

  it('is the visibility timeout plus the longest hidden wait: backoff, breaker recovery or busy', () => {
    expect(staleAfterSeconds({ visibilityTimeoutSeconds: 60, retry, breakerRecoveryTimeoutSeconds: 20 })).toBe(90);
    expect(staleAfterSeconds({ visibilityTimeoutSeconds: 60, retry, breakerRecoveryTimeoutSeconds: 120 })).toBe(180);
    expect(
      staleAfterSeconds({
        visibilityTimeoutSeconds: 60,
        retry: { retryBaseSeconds: 45, retryMaxSeconds: 30 },
        breakerRecoveryTimeoutSeconds: 10,
      }),
    ).toBe(105);
  });

  it('caps the breaker and busy waits at SQS\u2019s longest delay of 900 s', () => {
    expect(staleAfterSeconds({ visibilityTimeoutSeconds: 60, retry, breakerRecoveryTimeoutSeconds: 3_600 })).toBe(960);
    expect(
      staleAfterSeconds({
        visibilityTimeoutSeconds: 60,
        retry: { retryBaseSeconds: 2_000, retryMaxSeconds: 30 },
        breakerRecoveryTimeoutSeconds: 10,
      }),
    ).toBe(960);
  });
});
