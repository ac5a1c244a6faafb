import { Parser } from '@asyncapi/parser';
import { describe, expect, it } from 'vitest';
import { asyncApiDocument } from '../../functions/api/asyncapi.js';
import { ClientMessage, ServerMessage } from '../../shared/contracts/websocket.js';

describe('the AsyncAPI document of the WebSocket API', () => {
  const document = asyncApiDocument();

  it('is valid AsyncAPI 3 by the AsyncAPI parser, with no error and no warning', async () => {
    const { document: parsed, diagnostics } = await new Parser().parse(JSON.stringify(document));
    // Severity 0 is an error, 1 a warning (Spectral's scale).
    expect(
      diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`),
    ).toEqual([]);
    expect(parsed?.version()).toBe('3.0.0');
  });

  it('lists every client message as received and every server message as sent', async () => {
    const { document: parsed } = await new Parser().parse(JSON.stringify(document));
    const titles = (action: 'send' | 'receive') =>
      (parsed?.operations().all() ?? [])
        .filter((o) => o.action() === action)
        .flatMap((o) =>
          o
            .messages()
            .all()
            .map((m) => m.title()),
        )
        .sort();
    expect(titles('receive')).toEqual(ClientMessage.options.map((o) => o.shape.action.value).sort());
    expect(titles('send')).toEqual(ServerMessage.options.map((o) => o.shape.type.value).sort());
  });

  it("describes a message's payload as its zod schema does", async () => {
    const { document: parsed } = await new Parser().parse(JSON.stringify(document));
    const subscribe = parsed?.components().messages().get('subscribeRequest');
    const schema = subscribe?.payload()?.json() as {
      required?: string[];
      properties?: Record<string, { maxItems?: number }>;
    };
    expect(schema.required?.sort()).toEqual(['action', 'tokens']);
    expect(schema.properties?.tokens?.maxItems).toBe(1000);
  });
});
