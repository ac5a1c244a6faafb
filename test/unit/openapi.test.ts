import { describe, expect, it } from 'vitest';
import { openApiDocument, operationIdOf } from '../../functions/api/openapi.js';
import { httpRoutes } from '../../functions/routes.js';

type Operation = { operationId?: string; responses: Record<string, unknown> };

describe('the OpenAPI document (what redocly lint checks)', () => {
  const doc = openApiDocument(httpRoutes);
  const operations = Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, Operation>).map(([method, operation]) => ({ path, method, operation })),
  );

  it('names a server and a license', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
    expect(doc.info.license).toMatchObject({ name: expect.any(String), identifier: expect.any(String) });
  });

  it('gives every operation a unique operationId, from its function module', () => {
    const ids = operations.map((o) => o.operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z0-9]*$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.find((o) => o.path === '/orders/dead-letter/{task_id}/redrive')?.operation.operationId).toBe(
      'ordersDeadLetterRedrive',
    );
  });

  it('documents a 4xx response on every operation, public ones included', () => {
    for (const { path, method, operation } of operations) {
      expect(
        Object.keys(operation.responses).some((s) => s.startsWith('4')),
        `${method} ${path}`,
      ).toBe(true);
    }
  });

  it('derives an id from the method and path of a route without a module', () => {
    expect(operationIdOf({ method: 'GET', path: '/orders/{task_id}', access: 'public' })).toBe('getOrdersTaskId');
  });
});
