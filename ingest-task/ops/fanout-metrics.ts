import type { Registry } from 'prom-client';
import type { FanoutCounters } from '../fanout/fanout.js';
import { mirrorCounter } from './ingest-metrics.js';

/**
 * The fan-out role's metric names. The post counters are what the cloud alarms read (imported by
 * the task's CloudWatch agent sidecar, infra/stacks/ingest-stack.ts): failed and throttled posts.
 */
export const FanoutMetric = {
  posts: 'fanout_posts_total',
  postErrors: 'fanout_post_errors_total',
  throttled: 'fanout_posts_throttled_total',
  gone: 'fanout_posts_gone_total',
  deliveries: 'fanout_deliveries_total',
  dropped: 'fanout_ticks_dropped_total',
} as const;

/**
 * Registers the fan-out's counters on `registry`, read from the live counters at scrape time (as
 * the ingest role's are), so nothing on the post path counts twice.
 */
export function registerFanoutMetrics(
  registry: Registry,
  source: { readonly counters: Readonly<FanoutCounters> },
): void {
  const { counters } = source;
  const mirrored: readonly (readonly [name: string, help: string, read: () => number])[] = [
    [FanoutMetric.posts, 'Posts to client connections attempted.', () => counters.posts],
    [
      FanoutMetric.postErrors,
      'Posts that failed (not Gone, not throttled): the message was lost.',
      () => counters.postErrors,
    ],
    [FanoutMetric.throttled, 'Posts the gateway throttled (retried after a pause).', () => counters.throttled],
    [FanoutMetric.gone, 'Posts to connections that had closed (410 Gone).', () => counters.gone],
    [FanoutMetric.deliveries, 'Ticks handed to a connection queue.', () => counters.deliveries],
    [FanoutMetric.dropped, 'Ticks dropped from the queue of a client that could not keep up.', () => counters.dropped],
  ];
  for (const [name, help, read] of mirrored) mirrorCounter(registry, name, help, read);
}
