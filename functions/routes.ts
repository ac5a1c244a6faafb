import type { Components } from '../shared/wiring.js';
import type { HttpUseCase } from './http/http-handler.js';
import { healthUseCase } from './http-health.js';

/** One REST route: what API Gateway routes to which function, and the use case the local gateway runs. */
export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** API Gateway route path, `{name}` for a path parameter. */
  readonly path: string;
  /** The function's module, relative to the project root; it exports `handler`. */
  readonly entry: string;
  readonly makeUseCase: (components: Components) => HttpUseCase;
}

/**
 * The REST route table, shared by the CDK app (one function per entry) and the local gateway
 * (same modules, in process), so cloud and local routing cannot drift.
 */
export const httpRoutes: readonly HttpRoute[] = [
  { method: 'GET', path: '/health', entry: 'functions/http-health.ts', makeUseCase: healthUseCase },
];
