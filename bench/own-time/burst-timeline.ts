// When each request of a burst left upstream, counted from the burst's first
// request in. The burst's request-path p50 is one number; this shows its shape:
// whether the requests leave one after another at the proxy's per-request cost,
// or some leave at once and the rest wait on something (in stop 25's captures,
// the two held connections left within 1 ms and the other 30 waited 3–5 ms for
// the keeper's first reply). Pure: records in, ranks out.
import { quantile } from '../../src/util/stats.js';
import type { OwnTimeRecord } from './own-time.js';

export interface BurstTimeline {
  /** Bursts found in the records (requests grouped by a pause between them). */
  bursts: number;
  /** Requests in the largest burst. */
  size: number;
  /** The k-th request to leave (1-based), ms after its burst's first request in: median over the bursts that have a k-th. */
  ranks: { rank: number; ms: number }[];
}

/**
 * Requests further apart than this belong to different bursts: a burst's requests come in
 * within a few ms, and the next one starts only after its responses (a round trip) and the gap.
 */
const BURST_GAP_US = 20_000;

/** The ranks reported for a burst of `size`: the first four, then quarters, without repeats. */
export function reportedRanks(size: number): number[] {
  const ranks = [1, 2, 3, 4, Math.ceil(size / 4), Math.ceil(size / 2), Math.ceil((3 * size) / 4), size].filter((r) => r >= 1 && r <= size);
  return [...new Set(ranks)].sort((a, b) => a - b);
}

/** Undefined when no record has an upstream side (the floor), or none left upstream. */
export function burstTimeline(records: readonly Pick<OwnTimeRecord, 'requestInUs' | 'toFirstUpstreamMs'>[]): BurstTimeline | undefined {
  const sorted = records.filter((r) => r.toFirstUpstreamMs !== undefined).sort((a, b) => a.requestInUs - b.requestInUs);
  if (sorted.length === 0) return undefined;
  const bursts: number[][] = [];
  let t0 = -Infinity;
  let last = -Infinity;
  for (const r of sorted) {
    if (r.requestInUs - last > BURST_GAP_US) {
      bursts.push([]);
      t0 = r.requestInUs;
    }
    last = r.requestInUs;
    bursts[bursts.length - 1]!.push((r.requestInUs - t0) / 1000 + r.toFirstUpstreamMs!);
  }
  for (const b of bursts) b.sort((x, y) => x - y);
  const size = Math.max(...bursts.map((b) => b.length));
  const ranks = reportedRanks(size).map((rank) => {
    const at = bursts.filter((b) => b.length >= rank).map((b) => b[rank - 1]!);
    return { rank, ms: Math.round(quantile(at, 0.5) * 100) / 100 };
  });
  return { bursts: bursts.length, size, ranks };
}

export function timelineLine(contender: string, t: BurstTimeline): string {
  const at = t.ranks.map((r) => `${ordinal(r.rank)} ${r.ms.toFixed(2)}`).join(' · ');
  return `burst timeline, ${contender}: the k-th first upstream segment (the request, or a plain connect's SYN), ms after the burst's first request in (median of ${t.bursts} bursts): ${at}`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${['th', 'st', 'nd', 'rd'][n % 10] ?? 'th'}`;
}
