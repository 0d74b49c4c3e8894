// Open-loop arrivals: the times requests are due, fixed before the run starts,
// so a slow response never delays the next request (no coordinated omission).

/** mulberry32: a small seeded PRNG, uniform in [0, 1). Same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Arrival offsets (ms from the start, ascending) of a Poisson process at
 * `ratePerSec`, all before `durationMs`, and never more than `maxCount`.
 */
export function poissonSchedule(ratePerSec: number, durationMs: number, maxCount: number, random: () => number): number[] {
  if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`rate must be a positive number, got ${ratePerSec}`);
  if (!(durationMs >= 0) || !Number.isFinite(durationMs)) throw new RangeError(`duration must be a finite number ≥ 0, got ${durationMs}`);
  const meanGapMs = 1000 / ratePerSec;
  const out: number[] = [];
  let t = 0;
  while (out.length < maxCount) {
    // Exponential gap; 1 - u is in (0, 1], so the log is finite.
    t += -Math.log(1 - random()) * meanGapMs;
    if (t >= durationMs) break;
    out.push(t);
  }
  return out;
}
