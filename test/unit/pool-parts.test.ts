import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/pool/backoff.js';
import { FakeClock } from '../../src/pool/clock.js';
import { PoolStats } from '../../src/pool/pool-stats.js';
import { clampTarget, DemandMeter, demandTarget } from '../../src/pool/sizing.js';
import { TokenBucket } from '../../src/pool/token-bucket.js';
import { TtlLearner } from '../../src/pool/ttl-learner.js';

describe('FakeClock', () => {
  it('fires due timers in time order, with now() at each due time', () => {
    const clock = new FakeClock();
    const seen: [string, number][] = [];
    clock.setTimeout(() => seen.push(['b', clock.now()]), 20);
    clock.setTimeout(() => {
      seen.push(['a', clock.now()]);
      clock.setTimeout(() => seen.push(['c', clock.now()]), 5);
    }, 10);
    const cancelled = clock.setTimeout(() => seen.push(['x', clock.now()]), 12);
    clock.clearTimeout(cancelled);
    clock.advance(30);
    expect(seen).toEqual([
      ['a', 10],
      ['c', 15],
      ['b', 20],
    ]);
    expect(clock.now()).toBe(30);
  });
});

describe('TokenBucket', () => {
  it('allows a burst, then ratePerSec', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.tryTake(0), b.tryTake(0), b.tryTake(0), b.tryTake(0)]).toEqual([true, true, true, false]);
    expect(b.msUntilToken(0)).toBe(100);
    expect(b.tryTake(99)).toBe(false);
    expect(b.tryTake(100)).toBe(true);
    expect(b.available(10_000)).toBe(3);
  });
});

describe('Backoff', () => {
  it('doubles the delay, turns unreachable after N failures, then probes at a doubling interval up to the max', () => {
    const b = new Backoff(
      { backoffBaseMs: 100, backoffMaxMs: 1_000, unreachableAfterFailures: 4, probeIntervalMs: 5_000, probeIntervalMaxMs: 20_000 },
      () => 0,
    );
    expect(b.onFailure(0)).toEqual({ from: 'ok', to: 'backoff' });
    expect(b.nextAttemptAt).toBe(100);
    b.onFailure(0);
    expect(b.nextAttemptAt).toBe(200);
    b.onFailure(0);
    expect(b.nextAttemptAt).toBe(400);
    expect(b.onFailure(0)).toEqual({ from: 'backoff', to: 'unreachable' });
    const delays = [5_000, 10_000, 20_000, 20_000];
    for (const d of [b.nextAttemptAt, ...[1, 2, 3].map(() => (b.onFailure(0), b.nextAttemptAt))]) expect(d).toBe(delays.shift());
    expect(b.onSuccess()).toEqual({ from: 'unreachable', to: 'ok' });
    expect(b.consecutiveFailures).toBe(0);
  });

  it('jitters upwards by at most 20 %', () => {
    const b = new Backoff(
      { backoffBaseMs: 1_000, backoffMaxMs: 1_000, unreachableAfterFailures: 9, probeIntervalMs: 1, probeIntervalMaxMs: 1 },
      () => 0.999,
    );
    b.onFailure(0);
    expect(b.nextAttemptAt).toBeGreaterThan(1_000);
    expect(b.nextAttemptAt).toBeLessThanOrEqual(1_200);
  });
});

describe('TtlLearner', () => {
  const config = { ttlMs: 50_000, ttlFloorMs: 2_000, ttlLearnFactor: 0.8, ttlLearnMinSamples: 2, ttlLearnWindowMs: 60_000, ttlRecoveryMs: 30_000 };

  it('needs minSamples early deaths in the window, then goes just under the shortest', () => {
    const l = new TtlLearner(config);
    expect(l.observe(7_000, 0)).toBeUndefined();
    expect(l.ttlMs).toBe(50_000);
    expect(l.observe(9_000, 1_000)).toEqual({ previousTtlMs: 50_000, ttlMs: 5_600, reason: 'early-death', observedLifetimeMs: 7_000 });
    expect(l.observe(100, 2_000)?.ttlMs).toBe(2_000); // the floor
    expect(l.snapshot(2_000)).toMatchObject({ earlyDeaths: 3, observedLifetimeMs: 100, effectiveTtlMs: 2_000 });
  });

  it('forgets observations outside the window and recovers after a quiet period', () => {
    const l = new TtlLearner(config);
    l.observe(7_000, 0);
    expect(l.observe(7_000, 70_000)).toBeUndefined(); // the first one fell out of the window
    l.observe(7_000, 71_000);
    expect(l.ttlMs).toBe(5_600);
    expect(l.nextRecoveryAt()).toBe(101_000);
    expect(l.maybeRecover(100_000)).toBeUndefined();
    expect(l.maybeRecover(101_000)).toMatchObject({ ttlMs: 11_200, reason: 'recovery' });
    for (let t = 131_000; l.ttlMs < 50_000; t += 30_000) l.maybeRecover(t);
    expect(l.ttlMs).toBe(50_000);
    expect(l.nextRecoveryAt()).toBe(Infinity);
  });
});

describe('sizing', () => {
  it('measures a steady take rate', () => {
    const m = new DemandMeter(10_000, 0);
    for (let t = 0; t < 60_000; t += 50) m.record(t);
    expect(m.ratePerSec(60_000)).toBeGreaterThan(19);
    expect(m.ratePerSec(60_000)).toBeLessThan(21);
    expect(m.ratePerSec(120_000)).toBeLessThan(0.1);
  });

  it('rate × (RTT + margin) × safety + burst, clamped to min..max and the cap', () => {
    const base = { refillMarginMs: 100, safetyFactor: 2, burstEntries: 2 };
    expect(demandTarget({ ...base, demandPerSec: 0, synAckRttMs: 0 })).toBe(2);
    expect(demandTarget({ ...base, demandPerSec: 20, synAckRttMs: 50 })).toBe(8);
    expect(demandTarget({ ...base, demandPerSec: 0.01, synAckRttMs: 50 })).toBe(2);
    expect(clampTarget(100, 1, 64, 32)).toBe(32);
    expect(clampTarget(0, 3, 64, 32)).toBe(3);
  });
});

describe('PoolStats', () => {
  it('keeps an RTT EWMA and a fixed-bucket histogram', () => {
    const s = new PoolStats();
    s.recordRtt(10);
    s.recordRtt(20);
    s.recordRtt(5_000);
    const r = s.rtt();
    expect(r.samples).toBe(3);
    expect(r.ewmaMs).toBeCloseTo(10 + 0.2 * 10 + 0.2 * (5_000 - 12), 6);
    expect(r.bucketCounts[r.bucketBoundsMs.indexOf(10)]).toBe(1);
    expect(r.bucketCounts[r.bucketBoundsMs.indexOf(25)]).toBe(1);
    expect(r.bucketCounts.at(-1)).toBe(1);
  });
});
