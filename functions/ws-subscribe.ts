import { lambdaWsHandler } from './ws/ws-handler.js';

/**
 * `subscribe` (TC-WSS-020): validates `{"action":"subscribe","tokens":[…]}` (positive integer
 * tokens, at most the per-connection maximum in total), adds the tokens to the connection's record
 * and index, and answers `subscribed` with `tokens` and `total`. The fan-out hears of it on
 * `control:connections`, starts delivering those tokens and first sends the latest known tick of
 * each.
 */
export const handler = lambdaWsHandler('ws-subscribe', 'subscribe');
