import { lambdaWsHandler } from './ws/ws-handler.js';

/** `ping` (TC-WSS-022): answers `{"type":"pong"}`; it also keeps the connection from idling out (10 minutes). */
export const handler = lambdaWsHandler('ws-ping', 'ping');
