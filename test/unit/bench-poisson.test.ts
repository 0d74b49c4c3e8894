import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { poissonSchedule, seededRandom } from '../../bench/harness/poisson-schedule.js';

describe('Poisson schedule', () => {
  it('is ascending, inside the duration and never longer than maxCount', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 2000, noNaN: true }), fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 500 }), fc.integer(), (rate, duration, max, seed) => {
        const s = poissonSchedule(rate, duration, max, seededRandom(seed));
        expect(s.length).toBeLessThanOrEqual(max);
        for (let i = 0; i < s.length; i++) {
          expect(s[i]).toBeGreaterThan(0);
          expect(s[i]).toBeLessThan(duration);
          if (i > 0) expect(s[i]).toBeGreaterThanOrEqual(s[i - 1]!);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('stops at maxCount even when the random source is stuck (zero gaps)', () => {
    expect(poissonSchedule(10, 1000, 5_000, () => 0)).toHaveLength(5_000);
    expect(poissonSchedule(10, 1000, 50, () => 0.999999).length).toBeLessThanOrEqual(50);
  });

  it('has about rate × duration arrivals', () => {
    const s = poissonSchedule(50, 200_000, 1_000_000, seededRandom(7));
    // Expected 10 000, standard deviation 100: ±5 % is 5 sigma.
    expect(s.length).toBeGreaterThan(9_500);
    expect(s.length).toBeLessThan(10_500);
  });

  it('is reproducible from its seed', () => {
    expect(poissonSchedule(20, 5000, 1000, seededRandom(3))).toEqual(poissonSchedule(20, 5000, 1000, seededRandom(3)));
    expect(poissonSchedule(20, 5000, 1000, seededRandom(3))).not.toEqual(poissonSchedule(20, 5000, 1000, seededRandom(4)));
  });

  it('rejects a rate that is not positive and a duration that is not finite', () => {
    expect(() => poissonSchedule(0, 1000, 10, Math.random)).toThrow(RangeError);
    expect(() => poissonSchedule(Number.NaN, 1000, 10, Math.random)).toThrow(RangeError);
    expect(() => poissonSchedule(1, Number.POSITIVE_INFINITY, 10, Math.random)).toThrow(RangeError);
  });
});
