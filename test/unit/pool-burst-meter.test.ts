import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BurstMeter, demandTarget, refillWindowMs } from '../../src/pool/sizing.js';

/** The definition, by brute force: the most takes in any (t − window, t] ending at a take within (now − memory, now]. */
function bruteForcePeak(times: readonly number[], windowMs: number, memoryMs: number, maxCount: number, now: number): number {
  let peak = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (t <= now - memoryMs) continue;
    let n = 0;
    for (let j = 0; j <= i; j++) if (times[j]! > t - windowMs) n++;
    peak = Math.max(peak, Math.min(n, maxCount));
  }
  return peak;
}

describe('BurstMeter', () => {
  it('counts the takes within one refill window and remembers the peak for memoryMs', () => {
    const m = new BurstMeter();
    for (let i = 0; i < 32; i++) m.record(1_000 + i * 0.1, 150, 30_000, 64);
    expect(m.peak(1_010, 30_000)).toBe(32);
    // Steady takes afterwards, one per 200 ms: never two within the 150 ms window.
    for (let t = 2_000; t < 20_000; t += 200) m.record(t, 150, 30_000, 64);
    expect(m.peak(20_000, 30_000)).toBe(32);
    // The burst lapses 30 s after its last take; what remains is the steady stream's 1.
    expect(m.peak(31_003.1, 30_000)).toBe(32);
    expect(m.peak(31_003.2, 30_000)).toBe(1);
    expect(m.peak(60_000, 30_000)).toBe(0);
  });

  it('takes spread wider than the window are not a burst', () => {
    const m = new BurstMeter();
    for (let i = 0; i < 20; i++) m.record(i * 150, 150, 30_000, 64);
    expect(m.peak(3_000, 30_000)).toBe(1);
  });

  it('counts at most maxCount (the cap), and nothing with memory 0', () => {
    const m = new BurstMeter();
    for (let i = 0; i < 500; i++) m.record(1_000, 150, 30_000, 64);
    expect(m.peak(1_000, 30_000)).toBe(64);
    const off = new BurstMeter();
    for (let i = 0; i < 10; i++) off.record(1_000, 150, 0, 64);
    expect(off.peak(1_000, 0)).toBe(0);
  });

  it('matches the brute-force definition on arbitrary take times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 120 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 3_000 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 6_000 }),
        (raw, windowMs, memoryMs, maxCount, extra) => {
          const times = [...raw].sort((a, b) => a - b);
          const m = new BurstMeter();
          for (const t of times) m.record(t, windowMs, memoryMs, maxCount);
          const now = (times.at(-1) ?? 0) + extra;
          expect(m.peak(now, memoryMs)).toBe(bruteForcePeak(times, windowMs, memoryMs, maxCount, now));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('demandTarget with a remembered burst', () => {
  const base = { refillMarginMs: 100, safetyFactor: 2, burstEntries: 2 };
  it('is at least the burst peak, and the rate target when that is larger', () => {
    expect(demandTarget({ ...base, demandPerSec: 13, synAckRttMs: 50, burstPeak: 32 })).toBe(32);
    expect(demandTarget({ ...base, demandPerSec: 13, synAckRttMs: 50, burstPeak: 0 })).toBe(6);
    expect(demandTarget({ ...base, demandPerSec: 100, synAckRttMs: 50, burstPeak: 10 })).toBe(32);
  });
  it('counts takes within an RTT plus the margin', () => {
    expect(refillWindowMs(40, 100)).toBe(140);
    expect(refillWindowMs(0, 100)).toBe(100);
  });
});
