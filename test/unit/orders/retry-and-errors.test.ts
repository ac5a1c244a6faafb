import { describe, expect, it } from 'vitest';
import { toKiteApiError } from '../../../shared/adapters/kite/kite-rest-client.js';
import { classifyOrderError } from '../../../shared/domain/orders/order-errors.js';
import { attemptsThisRound, canTransition, errorTypeOf, tagError } from '../../../shared/domain/orders/order-status.js';
import { backoffSeconds, visibilitySeconds } from '../../../shared/domain/orders/retry-policy.js';
import { BrokerError } from '../../../shared/ports/broker.js';
import { placeOrderTask } from '../../support/order-fixtures.js';

describe('retry policy', () => {
  it('TC-ORD-020: backs off 1, 2, 4, 8, 16 s, then holds at the 30 s cap', () => {
    const policy = { retryBaseSeconds: 1, retryMaxSeconds: 30 };
    expect([1, 2, 3, 4, 5, 6, 7, 50, 5000].map((n) => backoffSeconds(n, policy))).toEqual([
      1, 2, 4, 8, 16, 30, 30, 30, 30,
    ]);
    expect(backoffSeconds(3, { retryBaseSeconds: 0.5, retryMaxSeconds: 900 })).toBe(2);
    expect(() => backoffSeconds(0, policy)).toThrow(
      new RangeError('failedAttempt must be a whole number from 1, got 0'),
    );
    expect(() => backoffSeconds(1.5, policy)).toThrow('failedAttempt must be a whole number from 1, got 1.5');
  });

  it('rounds a delay up to whole seconds within what SQS accepts', () => {
    expect(visibilitySeconds(0.2)).toBe(1);
    expect(visibilitySeconds(0)).toBe(0);
    expect(visibilitySeconds(0, 1)).toBe(1);
    expect(visibilitySeconds(1e9)).toBe(43_200);
  });
});

describe('order error classification', () => {
  it('retries network, timeout, 429 and 5xx, and trips the breaker on them only', () => {
    for (const kind of ['network', 'timeout', 'rate-limited', 'server'] as const) {
      expect(classifyOrderError(new BrokerError(kind, 'x'))).toEqual({
        type: kind,
        message: 'x',
        retryable: true,
        tripsBreaker: true,
      });
    }
    for (const kind of ['input', 'permission', 'margin', 'token'] as const) {
      expect(classifyOrderError(new BrokerError(kind, 'x'))).toEqual({
        type: kind,
        message: 'x',
        retryable: false,
        tripsBreaker: false,
      });
    }
  });

  it('keeps the kind of a Kite client error, and never retries an unclassified failure', () => {
    const kite = toKiteApiError(
      { status: 'error', error_type: 'MarginException', message: 'Insufficient funds' },
      'ZX1234',
    );
    expect(classifyOrderError(kite)).toMatchObject({ type: 'margin', retryable: false });
    expect(classifyOrderError(new TypeError('undefined is not a function'))).toEqual({
      type: 'internal',
      message: 'undefined is not a function',
      retryable: false,
      tripsBreaker: false,
    });
  });
});

describe('order status rules', () => {
  it('never leaves COMPLETED, and redrives only dead letters', () => {
    for (const to of ['PENDING', 'RUNNING', 'RETRYING', 'DEAD_LETTER', 'COMPLETED'] as const) {
      expect(canTransition('COMPLETED', to)).toBe(false);
    }
    expect(canTransition('DEAD_LETTER', 'PENDING')).toBe(true);
    expect(canTransition('RUNNING', 'PENDING')).toBe(false);
    expect(canTransition('PENDING', 'RETRYING')).toBe(true);
  });

  it('counts attempts since the last redrive, and reads the error type of a tagged error', () => {
    const record = {
      task: placeOrderTask('t'),
      status: 'PENDING' as const,
      attempts: [
        { attempt: 1, at: 10 },
        { attempt: 2, at: 20 },
        { attempt: 3, at: 40 },
      ],
      createdAt: 0,
      updatedAt: 40,
      redrivenAt: 30,
    };
    expect(attemptsThisRound(record)).toBe(1);
    expect(attemptsThisRound({ ...record, redrivenAt: undefined })).toBe(3);
    expect(errorTypeOf(tagError('rate-limited', 'Too many requests'))).toBe('rate-limited');
    expect(errorTypeOf('untagged')).toBeUndefined();
  });
});
