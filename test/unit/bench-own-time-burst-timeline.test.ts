import { describe, expect, it } from 'vitest';
import { burstTimeline, reportedRanks, timelineLine } from '../../bench/own-time/burst-timeline.js';

/** A record of a request that came in `inMs` after t and left upstream `pathMs` later. */
const rec = (inMs: number, pathMs: number | undefined): { requestInUs: number; toFirstUpstreamMs: number | undefined } => ({
  requestInUs: 1_700_000_000_000_000 + Math.round(inMs * 1000),
  toFirstUpstreamMs: pathMs,
});

describe('burstTimeline', () => {
  it('orders each burst by when its requests left, from the burst’s first request in', () => {
    // Two held connections leave at once; the rest wait ~4 ms, then leave 0.1 ms apart.
    const burst = (t: number): ReturnType<typeof rec>[] => [
      rec(t + 0, 0.4),
      rec(t + 0.05, 0.85),
      ...Array.from({ length: 6 }, (_, i) => rec(t + 0.1 + i * 0.02, 4 + i * 0.1 - (0.1 + i * 0.02))),
    ];
    const t = burstTimeline([...burst(0), ...burst(1000)])!;
    expect(t.bursts).toBe(2);
    expect(t.size).toBe(8);
    expect(t.ranks.map((r) => r.rank)).toEqual([1, 2, 3, 4, 6, 8]);
    expect(t.ranks[0]!.ms).toBeCloseTo(0.4, 2);
    expect(t.ranks[1]!.ms).toBeCloseTo(0.9, 2);
    expect(t.ranks[2]!.ms).toBeCloseTo(4.0, 2);
    expect(t.ranks.at(-1)!.ms).toBeCloseTo(4.5, 2);
  });

  it('takes the median over bursts, and ranks only from bursts that have them', () => {
    const t = burstTimeline([rec(0, 1), rec(0.1, 2.9), rec(500, 3), rec(500.1, 4.9), rec(500.2, 7.8), rec(900, 5), rec(900.1, 6.9)])!;
    expect(t.bursts).toBe(3);
    expect(t.size).toBe(3);
    // 1st: 1, 3, 5 → 3; 2nd: 3, 5, 7 → 5; 3rd: only the middle burst's 8.
    expect(t.ranks).toEqual([
      { rank: 1, ms: 3 },
      { rank: 2, ms: 5 },
      { rank: 3, ms: 8 },
    ]);
  });

  it('has nothing to say without an upstream side', () => {
    expect(burstTimeline([rec(0, undefined), rec(1, undefined)])).toBeUndefined();
    expect(burstTimeline([])).toBeUndefined();
  });

  it('reports the first four and the quarters, without repeats', () => {
    expect(reportedRanks(32)).toEqual([1, 2, 3, 4, 8, 16, 24, 32]);
    expect(reportedRanks(3)).toEqual([1, 2, 3]);
    expect(reportedRanks(1)).toEqual([1]);
  });

  it('words the line with ordinals', () => {
    const line = timelineLine('synpool', { bursts: 4, size: 12, ranks: [{ rank: 1, ms: 0.4 }, { rank: 2, ms: 0.9 }, { rank: 3, ms: 4 }, { rank: 11, ms: 5 }, { rank: 12, ms: 5.25 }] });
    expect(line).toBe(
      "burst timeline, synpool: the k-th first upstream segment (the request, or a plain connect's SYN), ms after the burst's first request in (median of 4 bursts): 1st 0.40 · 2nd 0.90 · 3rd 4.00 · 11th 5.00 · 12th 5.25",
    );
  });
});
