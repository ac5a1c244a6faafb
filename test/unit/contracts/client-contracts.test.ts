import { describe, expect, it } from 'vitest';
import {
  ConnectedMessage,
  CreateSubscriptionResponse,
  ErrorMessage,
  HealthResponse,
  HistoryResponse,
  OrderMessage,
  PongMessage,
  ServerMessage,
  SubscribedMessage,
  SubscriptionListResponse,
  TickMessage,
  TicksMessage,
  UnsubscribedMessage,
} from '../../../shared/contracts/index.js';
import { sampleOptionSnapshot } from '../../support/fixtures.js';
import { contractViolations, requiredFields } from './frozen-fields.js';

/*
 * The client-facing shapes of docs/test-plan-index.md, written down field by field. Removing or
 * renaming a field, making it optional or changing its JSON type makes these fail; adding an
 * optional field does not.
 */

const ISO = 'string';

describe('REST contracts', () => {
  it('TC-REG-001: GET /subscriptions returns subscriptions with the frozen fields and types', () => {
    expect(
      contractViolations(SubscriptionListResponse, {
        subscriptions: 'array',
        'subscriptions.instrument_token': 'integer',
        'subscriptions.tradingsymbol': 'string',
        'subscriptions.segment': 'string',
        'subscriptions.status': 'string',
        'subscriptions.requested_mode': 'string',
        'subscriptions.account_id': 'string | null',
        'subscriptions.created_at': ISO,
        'subscriptions.updated_at': ISO,
      }),
    ).toEqual([]);
    const body = {
      subscriptions: [
        {
          instrument_token: 256265,
          tradingsymbol: 'NIFTY25JAN19000CE',
          segment: 'NFO-OPT',
          status: 'active',
          requested_mode: 'FULL',
          account_id: null,
          created_at: '2025-01-08T09:15:00Z',
          updated_at: '2025-01-08T09:15:00.123+05:30',
        },
      ],
    };
    expect(SubscriptionListResponse.parse(body)).toEqual(body);
    const bad = structuredClone(body);
    (bad.subscriptions[0] as { status: string }).status = 'paused';
    expect(SubscriptionListResponse.safeParse(bad).success).toBe(false);
    (bad.subscriptions[0] as { status: string; requested_mode: string }).status = 'inactive';
    (bad.subscriptions[0] as { requested_mode: string }).requested_mode = 'DEPTH';
    expect(SubscriptionListResponse.safeParse(bad).success).toBe(false);
  });

  it('TC-REG-002: POST /subscriptions answers {message: "Subscription created", instrument_token}', () => {
    expect(contractViolations(CreateSubscriptionResponse, { message: 'string', instrument_token: 'integer' })).toEqual(
      [],
    );
    expect(CreateSubscriptionResponse.parse({ message: 'Subscription created', instrument_token: 256265 })).toEqual({
      message: 'Subscription created',
      instrument_token: 256265,
    });
    expect(CreateSubscriptionResponse.safeParse({ message: 'Created', instrument_token: 256265 }).success).toBe(false);
  });

  it('TC-REG-003: GET /history candles carry OHLCV, nullable oi and nullable greeks', () => {
    expect(
      contractViolations(HistoryResponse, {
        candles: 'array',
        'candles.date': ISO,
        'candles.open': 'number',
        'candles.high': 'number',
        'candles.low': 'number',
        'candles.close': 'number',
        'candles.volume': 'integer',
        'candles.oi': 'integer | null',
        'candles.greeks': 'object | null',
        'candles.greeks.delta': 'number',
        'candles.greeks.gamma': 'number',
        'candles.greeks.theta': 'number',
        'candles.greeks.vega': 'number',
      }),
    ).toEqual([]);
    const candle = { date: '2025-01-08T09:15:00Z', open: 240, high: 260, low: 235, close: 250, volume: 10000 };
    expect(HistoryResponse.safeParse({ candles: [{ ...candle, oi: null, greeks: null }] }).success).toBe(true);
    expect(
      HistoryResponse.safeParse({
        candles: [{ ...candle, oi: 50000, greeks: { delta: 0.5, gamma: 0.002, theta: -15.5, vega: 45.2 } }],
      }).success,
    ).toBe(true);
    expect(HistoryResponse.safeParse({ candles: [{ ...candle, oi: 1.5, greeks: null }] }).success).toBe(false);
  });

  it('TC-REG-004: GET /health has status, environment, ticker and dependencies', () => {
    expect(
      contractViolations(HealthResponse, {
        status: 'string',
        environment: 'string',
        ticker: 'object',
        'ticker.running': 'boolean',
        'ticker.active_subscriptions': 'integer',
        'ticker.accounts': 'object',
        dependencies: 'object',
        'dependencies.redis': 'string',
        'dependencies.database': 'string',
        'dependencies.instrument_registry': 'object',
      }),
    ).toEqual([]);
    const ok = {
      status: 'ok',
      environment: 'test',
      ticker: { running: true, active_subscriptions: 2, accounts: { primary: { tokens: 2 } } },
      dependencies: { redis: 'ok', database: 'ok', instrument_registry: { instruments: 10 } },
    };
    expect(HealthResponse.parse(ok)).toEqual(ok);
    expect(HealthResponse.safeParse({ ...ok, status: 'down' }).success).toBe(false);
  });
});

describe('WebSocket contracts', () => {
  it('TC-REG-030: every message type keeps exactly its required fields', () => {
    const frozen = [
      [ConnectedMessage, ['connection_id', 'type', 'user']],
      [SubscribedMessage, ['tokens', 'total', 'type']],
      [UnsubscribedMessage, ['tokens', 'total', 'type']],
      [TickMessage, ['data', 'type']],
      [ErrorMessage, ['message', 'type']],
      [PongMessage, ['type']],
    ] as const;
    for (const [schema, fields] of frozen) expect(requiredFields(schema)).toEqual(fields);
    expect(
      contractViolations(ConnectedMessage, {
        'user.user_id': 'string',
        'user.email': 'string | null',
        'user.name': 'string | null',
      }),
    ).toEqual([]);
    expect(contractViolations(SubscribedMessage, { tokens: 'array', total: 'integer' })).toEqual([]);

    const examples = [
      { type: 'connected', connection_id: 'abc=', user: { user_id: 'u1', email: 'a@b.in', name: 'A' } },
      { type: 'subscribed', tokens: [256265, 260105], total: 2 },
      { type: 'unsubscribed', tokens: [256265], total: 1 },
      { type: 'tick', data: sampleOptionSnapshot() },
      { type: 'ticks', data: [sampleOptionSnapshot()] },
      { type: 'error', message: 'Invalid JSON' },
      { type: 'error', message: 'Unknown action' },
      { type: 'pong' },
    ];
    for (const message of examples) expect(ServerMessage.parse(message)).toEqual(message);
    expect(ServerMessage.safeParse({ type: 'subscribed', tokens: [256265] }).success).toBe(false);
    expect(TicksMessage.safeParse({ type: 'ticks', data: {} }).success).toBe(false);
  });

  it('order updates keep their fields and types; average_price appears only with a fill', () => {
    expect(requiredFields(OrderMessage)).toEqual(['data', 'type']);
    expect(
      contractViolations(OrderMessage, {
        type: 'string',
        data: 'object',
        'data.task_id': 'string',
        'data.order_id': 'string',
        'data.status': 'string',
        'data.filled_quantity': 'integer',
        'data.pending_quantity': 'integer | null',
        'data.status_message': 'string | null',
        'data.updated_at': ISO,
      }),
    ).toEqual([]);
    const open = {
      type: 'order',
      data: {
        task_id: 't-1',
        order_id: '250108000000001',
        status: 'OPEN',
        filled_quantity: 0,
        pending_quantity: 75,
        status_message: null,
        updated_at: '2025-01-08T09:15:01.000Z',
      },
    };
    const filled = {
      ...open,
      data: { ...open.data, status: 'COMPLETE', filled_quantity: 75, pending_quantity: 0, average_price: 101.5 },
    };
    for (const message of [open, filled]) expect(ServerMessage.parse(message)).toEqual(message);
    expect(OrderMessage.safeParse({ ...open, data: { ...open.data, updated_at: 'now' } }).success).toBe(false);
  });

  it('TC-REG-031: the tick payload keeps the frozen fields and types', () => {
    expect(
      contractViolations(TickMessage, {
        type: 'string',
        data: 'object',
        'data.instrument_token': 'integer',
        'data.tradingsymbol': 'string',
        'data.last_price': 'number',
        'data.volume': 'integer',
        'data.oi': 'integer',
        'data.delta': 'number',
        'data.gamma': 'number',
        'data.theta': 'number',
        'data.vega': 'number',
        'data.timestamp': ISO,
        'data.is_mock': 'boolean',
      }),
    ).toEqual([]);
    const tick = sampleOptionSnapshot();
    expect(TickMessage.parse({ type: 'tick', data: tick }).data).toEqual(tick);
    expect(TickMessage.safeParse({ type: 'tick', data: { ...tick, timestamp: 'yesterday' } }).success).toBe(false);
  });
});
