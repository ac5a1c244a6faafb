/*
 * The parts of the ingest task that the `ingest` benchmark runs in its own process, as one entry
 * point: the benchmark bundles this file with the ingest image's esbuild command and loads the
 * bundle, so it measures the code as the image runs it (one minified module) and not as tsx loads
 * the sources (a module per file, where every imported constant is read through its module's
 * binding: the tick path ran some 30 % slower so).
 */
export { KitePool } from '../../ingest-task/kite/kite-pool.js';
export { ReferencePricePublisher } from '../../ingest-task/pipeline/reference-price-publisher.js';
export { TickPipeline } from '../../ingest-task/pipeline/tick-pipeline.js';
export { TickPublisher } from '../../ingest-task/pipeline/tick-publisher.js';
export { Reconciler } from '../../ingest-task/reconcile/reconciler.js';
export { KitePoolTarget } from '../../ingest-task/reconcile/stream-targets.js';
export { MemorySubscriptionStore } from '../../shared/adapters/memory/memory-subscription-store.js';
export { RedisLiveStateStore } from '../../shared/adapters/redis/redis-live-state-store.js';
export { RedisTickBus } from '../../shared/adapters/redis/redis-tick-bus.js';
export { ReferencePriceWindow } from '../../shared/domain/market/reference-price-window.js';
