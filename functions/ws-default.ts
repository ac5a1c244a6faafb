import { lambdaWsHandler } from './ws/ws-handler.js';

/**
 * `$default` (TC-WSS-023, TC-WSS-024): every message whose `action` names no route. Invalid JSON
 * is answered `{"type":"error","message":"Invalid JSON"}`, anything else `Unknown action`; the
 * connection stays open either way.
 */
export const handler = lambdaWsHandler('ws-default', '$default');
