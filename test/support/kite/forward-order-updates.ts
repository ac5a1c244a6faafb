import type { FakeKiteRest } from '../kite-rest/kite-rest-server.js';
import type { KiteSimulator } from './simulator.js';

/**
 * Joins the fake Kite's two halves the way Kite is one service: every order update the fake REST
 * server delivers goes out as `{"type":"order","data":…}` on the ticker connections of the order's
 * api key. Held, reordered and replayed updates go out as they are delivered. Returns the
 * unsubscribe.
 */
export function forwardOrderUpdates(
  rest: Pick<FakeKiteRest, 'onOrderUpdate'>,
  simulator: Pick<KiteSimulator, 'sendOrderUpdate'>,
): () => void {
  return rest.onOrderUpdate((update) => {
    simulator.sendOrderUpdate(update.apiKey, update.tickerData);
  });
}
