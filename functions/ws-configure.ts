import { lambdaWsHandler } from './ws/ws-handler.js';

/**
 * `configure`: the opt-in batch delivery mode, `{"action":"configure","delivery":"batch",
 * "interval_ms":…}` (50 to 5000 ms) or back to `tick`; answers `configured`. In batch mode the
 * fan-out sends `{"type":"ticks","data":[…]}` with the latest value per token once per interval.
 */
export const handler = lambdaWsHandler('ws-configure', 'configure');
