import { z } from 'zod';
import { ClientMessage, ServerMessage } from '../../shared/contracts/websocket.js';
import type { HttpUseCase } from '../http/http-handler.js';

/**
 * `GET /asyncapi.json`: the AsyncAPI 3 document of the WebSocket API, generated from the zod
 * schemas the handlers parse client messages with and the contract tests hold server messages to,
 * so a message added to either union is documented without anyone writing it down twice.
 */

/** A member of a discriminated union, with its discriminator's literal value. */
function discriminator(schema: z.ZodObject, key: string): string {
  const literal = schema.shape[key];
  if (!(literal instanceof z.ZodLiteral) || typeof literal.value !== 'string') {
    throw new Error(`A WebSocket message schema has no string literal "${key}"`);
  }
  return literal.value;
}

/** JSON Schema draft-07, which AsyncAPI 3's default schema format is a superset of. */
function payload(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
  });
  return rest;
}

/** Short descriptions of the messages, by their `action` or `type`; a message without one is still listed. */
const SUMMARIES: Readonly<Record<string, string>> = {
  subscribe: 'Start streaming these tokens to this connection; answered with `subscribed` or an error',
  unsubscribe: 'Stop streaming these tokens to this connection; answered with `unsubscribed`',
  ping: 'Keep the connection from idling out (10 minutes at API Gateway); answered with `pong`',
  configure: 'Choose tick-by-tick or batch delivery; answered with `configured`',
  connected: 'First message on every connection: who is connected',
  subscribed: 'The tokens now streamed to this connection',
  unsubscribed: 'The tokens no longer streamed to this connection',
  tick: 'One option tick with Greeks and IV (tick delivery)',
  ticks: 'The latest tick of each token since the previous batch (batch delivery)',
  bar: "A bar of the underlying, to clients subscribed to the index's token",
  order: "A change of one of the connection's user's orders",
  error: 'A refused message, with the reason',
  pong: 'The answer to `ping`',
  configured: 'The delivery mode now in force',
};

/** Builds the AsyncAPI 3.0 document of the WebSocket API. */
export function asyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  for (const option of ClientMessage.options) {
    const action = discriminator(option, 'action');
    const name = `${action}Request`;
    messages[name] = { name, title: action, summary: SUMMARIES[action] ?? action, payload: payload(option) };
    operations[`receive${name[0]?.toUpperCase()}${name.slice(1)}`] = {
      action: 'receive',
      channel: { $ref: '#/channels/socket' },
      summary: SUMMARIES[action] ?? action,
      messages: [{ $ref: `#/channels/socket/messages/${name}` }],
    };
  }
  for (const option of ServerMessage.options) {
    const type = discriminator(option, 'type');
    const name = `${type}Message`;
    messages[name] = { name, title: type, summary: SUMMARIES[type] ?? type, payload: payload(option) };
    operations[`send${name[0]?.toUpperCase()}${name.slice(1)}`] = {
      action: 'send',
      channel: { $ref: '#/channels/socket' },
      summary: SUMMARIES[type] ?? type,
      messages: [{ $ref: `#/channels/socket/messages/${name}` }],
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Ticker platform WebSocket API',
      version: '1.0.0',
      description:
        'Live NIFTY/BANKNIFTY option ticks with Greeks, and order updates. Clients send JSON objects with an ' +
        '`action`; the platform sends JSON objects with a `type`. Connect with `?token=<JWT>` (or an API key).',
      license: { name: 'Proprietary' },
    },
    servers: {
      local: {
        host: 'localhost:3000',
        pathname: '/ws',
        protocol: 'ws',
        description: '`npm start`; in the cloud, the WebSocket API stage URL the deploy prints',
        security: [{ $ref: '#/components/securitySchemes/token' }],
      },
    },
    channels: {
      socket: {
        address: '/',
        title: 'The connection',
        description: "One channel per connection: everything the client sends and the platform's answers and streams",
        messages: Object.fromEntries(
          Object.keys(messages).map((name) => [name, { $ref: `#/components/messages/${name}` }]),
        ),
      },
    },
    operations,
    components: {
      messages,
      securitySchemes: {
        token: {
          type: 'httpApiKey',
          name: 'token',
          in: 'query',
          description: 'A JWT (HS256 or from the JWKS configured), or an API key',
        },
      },
    },
  };
}

/** The `GET /asyncapi.json` use case: the document is built once, on first request. */
export function asyncApiUseCase(): HttpUseCase {
  let document: Record<string, unknown> | undefined;
  return async () => {
    document ??= asyncApiDocument();
    return { status: 200, body: document, headers: { 'cache-control': 'public, max-age=300' } };
  };
}
