import { lambdaWsHandler } from './ws/ws-handler.js';

/**
 * `$disconnect` (TC-WSS-004, TC-WSS-005): removes the connection from the registry and its token
 * index, and announces it on `control:connections` so the fan-out forgets it. API Gateway calls it
 * on a clean close and, best effort, after an ungraceful loss; records it misses expire (TTL a
 * little past the 2-hour connection limit), and a post that answers 410 removes them too.
 */
export const handler = lambdaWsHandler('ws-disconnect', '$disconnect');
