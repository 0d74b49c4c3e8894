// Exact quantiles over every recorded sample (nearest rank): the runs are a few
// thousand requests at most, so there is no need for a histogram's buckets.
import { quantile } from '../../src/util/stats.js';

export interface LatencySummary {
  /** Successful requests (the quantiles are over these). */
  count: number;
  errors: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  meanMs: number | null;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function summarize(samplesMs: readonly number[], errors = 0): LatencySummary {
  if (samplesMs.length === 0) return { count: 0, errors, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    errors,
    p50Ms: round(quantile(sorted, 0.5)),
    p90Ms: round(quantile(sorted, 0.9)),
    p99Ms: round(quantile(sorted, 0.99)),
    maxMs: round(sorted[sorted.length - 1] as number),
    meanMs: round(sum / sorted.length),
  };
}
