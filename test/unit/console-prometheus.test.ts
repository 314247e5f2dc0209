import { describe, expect, it } from 'vitest';
import { bucketIncrease, buckets, parsePrometheus, quantile, total } from '../../src/console/prometheus.js';

// The arithmetic behind the console's live charts, on the text format /metrics serves.

const EXPOSITION = `# HELP http_request_duration_seconds Request latency
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.01",method="GET",route="/v1/items",status="200"} 10
http_request_duration_seconds_bucket{le="0.1",method="GET",route="/v1/items",status="200"} 30
http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/items",status="200"} 40
http_request_duration_seconds_count{method="GET",route="/v1/items",status="200"} 40
http_request_duration_seconds_bucket{le="0.01",method="POST",route="/v1/orders",status="503"} 0
http_request_duration_seconds_bucket{le="0.1",method="POST",route="/v1/orders",status="503"} 10
http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/v1/orders",status="503"} 10
http_request_duration_seconds_count{method="POST",route="/v1/orders",status="503"} 10
db_transaction_retries_total{name="a \\"quoted\\", name",sqlstate="40001"} 3
batch_retries_total 2.5e0
not a sample line
`;

describe('the Prometheus text the console reads', () => {
  const samples = parsePrometheus(EXPOSITION);

  it('parses samples with escaped label values and skips comments and junk', () => {
    expect(samples).toHaveLength(10);
    expect(samples.find((sample) => sample.name === 'db_transaction_retries_total')).toEqual({
      name: 'db_transaction_retries_total',
      labels: { name: 'a "quoted", name', sqlstate: '40001' },
      value: 3,
    });
    expect(total(samples, 'batch_retries_total')).toBe(2.5);
  });

  it('sums counters by label, and buckets over every other label', () => {
    expect(total(samples, 'http_request_duration_seconds_count')).toBe(50);
    expect(total(samples, 'http_request_duration_seconds_count', { status: '503' })).toBe(10);
    expect([...buckets(samples, 'http_request_duration_seconds')]).toEqual([
      [0.01, 10],
      [0.1, 40],
      [Number.POSITIVE_INFINITY, 50],
    ]);
  });

  it('computes quantiles as histogram_quantile does, on what was counted between two scrapes', () => {
    const after = buckets(samples, 'http_request_duration_seconds');
    expect(quantile(0.2, after)).toBeCloseTo(0.01);
    expect(quantile(0.5, after)).toBeCloseTo(0.01 + (0.09 * 15) / 30);
    expect(quantile(0.99, after)).toBe(0.1);
    const before = new Map([
      [0.01, 10],
      [0.1, 10],
      [Number.POSITIVE_INFINITY, 10],
    ]);
    const increase = bucketIncrease(before, after);
    expect([...increase.values()]).toEqual([0, 30, 40]);
    expect(quantile(0.5, increase)).toBeCloseTo(0.01 + (0.09 * 20) / 30);
    expect(quantile(0.5, bucketIncrease(after, after))).toBeUndefined();
  });
});
