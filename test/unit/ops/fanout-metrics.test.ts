import { describe, expect, it } from 'vitest';
import { zeroFanoutCounters } from '../../../ingest-task/fanout/fanout.js';
import { FanoutMetric, registerFanoutMetrics } from '../../../ingest-task/ops/fanout-metrics.js';
import { createMetricsRegistry } from '../../../ingest-task/ops/ingest-metrics.js';

const counters = zeroFanoutCounters;

/** The value of one unlabelled series in a Prometheus text exposition. */
const seriesValue = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('registerFanoutMetrics', () => {
  it('exports the fan-out post counters the cloud alarms read, as counters equal to the live values', async () => {
    const live = counters();
    const registry = createMetricsRegistry({ processMetrics: false });
    registerFanoutMetrics(registry, { counters: live });
    Object.assign(live, { posts: 120, postErrors: 3, throttled: 7, gone: 2, deliveries: 400, dropped: 1 });
    let text = await registry.metrics();
    expect(text).toContain(`# TYPE ${FanoutMetric.postErrors} counter`);
    expect(seriesValue(text, FanoutMetric.posts)).toBe(120);
    expect(seriesValue(text, FanoutMetric.postErrors)).toBe(3);
    expect(seriesValue(text, FanoutMetric.throttled)).toBe(7);
    expect(seriesValue(text, FanoutMetric.gone)).toBe(2);
    live.postErrors = 5;
    text = await registry.metrics();
    expect(seriesValue(text, FanoutMetric.postErrors)).toBe(5);
    expect(seriesValue(text, FanoutMetric.posts)).toBe(120);
  });
});
