import { lambdaWsHandler } from './ws/ws-handler.js';

/**
 * `$connect` (TC-WSS-001 to TC-WSS-003, TC-WSS-010 to TC-WSS-012): verifies the JWT from
 * `?token=` and, when it holds, records the connection (DynamoDB, and the Redis token index when
 * Redis is configured) and answers 200; otherwise 401 "Token required" or 403 with the plan's
 * reason, recording nothing and logging a security event without the token. API Gateway turns a
 * non-2xx status into the HTTP rejection of the upgrade.
 *
 * **The `connected` greeting.** API Gateway does not let anyone post to a connection while its
 * `$connect` is still running (PostToConnection answers 410), and a `$connect` route response is
 * never delivered to the client. So this handler does not greet: it publishes a `connected`
 * connection event (with the user from the claims) on the bus's `control:connections` channel
 * before it returns, and the fan-out (`ingest-task`, which holds the per-connection state anyway)
 * posts `{"type":"connected","connection_id","user"}` through the management API, retrying on a
 * short schedule (0 to 800 ms) while the post still answers 410 because the upgrade has not
 * completed. The local gateway follows the same path, with its `@connections` endpoint in place of
 * API Gateway's, and holds a new connection's messages until that first post has gone out, so
 * `connected` is always first there. API Gateway cannot hold them: in the cloud a client that
 * sends the moment its socket opens can get that message's reply before the greeting (by up to
 * the retry delay), so clients should wait for `connected` before sending.
 */
export const handler = lambdaWsHandler('ws-connect', '$connect');
