import { lambdaWsHandler } from './ws/ws-handler.js';

/**
 * `unsubscribe` (TC-WSS-021): removes the tokens from the connection's record and index and
 * answers `unsubscribed` with `tokens` and `total`; the fan-out stops delivering them.
 */
export const handler = lambdaWsHandler('ws-unsubscribe', 'unsubscribe');
