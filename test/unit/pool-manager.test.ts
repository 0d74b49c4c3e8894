import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CapabilityError, SyscallError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { HalfOpen } from '../../src/handshake/half-open.js';
import { FakeClock } from '../../src/pool/clock.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import type { PoolEvents, PoolSnapshot } from '../../src/pool/pool-events.js';
import { PoolManager } from '../../src/pool/pool-manager.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };
const B: Endpoint = { address: '10.0.0.3', port: 8080 };

function setup(pool: Partial<UpstreamPoolConfig> = {}, more: UpstreamPoolConfig[] = [], random = () => 0.5) {
  const clock = new FakeClock(1_000);
  const driver = new FakeHandshakeDriver(clock);
  // These tests follow entries over tens of seconds (TTL, refresh, overdue
  // retransmits, learning) against a retransmitting fake upstream: with the
  // default maxSynAckRetransmits (1) every entry would be replaced ~3 s after its
  // SYN-ACK, so they run with 5 (the behaviour before that setting: entries live
  // to their TTL). pool-full-window.test.ts covers the default.
  const mgr = new PoolManager({ driver, clock, random, upstreams: [{ target: A, maxSynAckRetransmits: 5, ...pool }, ...more] });
  const events: { name: keyof PoolEvents; e: Record<string, unknown> }[] = [];
  for (const name of ['entry-ready', 'entry-expired', 'entry-evicted', 'hit', 'miss', 'syn-sent', 'syn-failed', 'upstream-state', 'ttl-learned'] as const) {
    mgr.on(name, (e: unknown) => events.push({ name, e: e as Record<string, unknown> }));
  }
  const snap = (target: Endpoint = A): PoolSnapshot => {
    const s = mgr.snapshot().find((p) => p.upstream === `${target.address}:${target.port}`);
    if (s === undefined) throw new Error('no snapshot');
    return s;
  };
  const named = (name: keyof PoolEvents) => events.filter((x) => x.name === name).map((x) => x.e);
  /** Advances in steps, calling `each` after every step. */
  const run = (ms: number, step: number, each?: () => void): void => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(step);
      each?.();
    }
  };
  return { clock, driver, mgr, events, named, snap, run };
}

const answer = { mode: 'answer', rttMs: 5, retransmits: 5 } as const;

describe('PoolManager', () => {
  it('fills to its target', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 8 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    expect(snap()).toMatchObject({ ready: 8, pending: 0, synsSent: 8, synAcks: 8, targetReady: 8, state: 'ok' });
    expect(snap().synAckRtt.ewmaMs).toBe(5);
    clock.advance(10_000);
    expect(driver.openCalls).toHaveLength(8);
  });

  it('paces SYNs with the token bucket: never more than burst + rate × window', () => {
    const { driver, mgr, run } = setup({
      sizing: 'fixed',
      targetSize: 500,
      maxSize: 500,
      upstreamBacklog: 4096,
      synRatePerSec: 5,
      synBurst: 3,
      maxOpensPerTick: 10,
    });
    driver.behaviour = answer;
    mgr.start();
    run(20_000, 10);
    const times = driver.openCalls.map((c) => c.at);
    for (let i = 0; i < times.length; i++) {
      for (let j = i; j < times.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(3 + (5 * ((times[j] ?? 0) - (times[i] ?? 0))) / 1000 + 1e-9);
      }
    }
    expect(times.length).toBeGreaterThanOrEqual(3 + 5 * 19);
  });

  it('refreshes before the TTL, staggered: the pool never drains and nothing expires', () => {
    let r = 0;
    // A different jitter per entry, as Math.random would give.
    const { driver, mgr, snap, run, clock } = setup({ sizing: 'fixed', targetSize: 8 }, [], () => (r = (r * 7 + 3) % 10) / 10);
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    let minReady = Infinity;
    run(600_000, 100, () => (minReady = Math.min(minReady, snap().ready)));
    expect(minReady).toBeGreaterThanOrEqual(8);
    const s = snap();
    expect(s.expiredUnused).toBe(0);
    expect(s.evicted.refreshed).toBeGreaterThan(90);
    // 10 minutes at ~42.5 s per generation of 8: about 120 SYNs, not a flood.
    expect(s.synsSent).toBeLessThan(160);
    // Openings are spread: never more than 4 in one second after the initial fill.
    const later = driver.openCalls.map((c) => c.at).filter((t) => t > 3_000);
    for (const t of later) expect(later.filter((u) => u >= t && u < t + 1_000).length).toBeLessThanOrEqual(4);
  });

  it('releases an entry at its TTL and never hands it out', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 1, minSize: 1, ttlMs: 10_000, refreshLeadMs: 0 });
    driver.behaviour = { ...answer, retransmits: 5 };
    mgr.start();
    clock.advance(100);
    const first = driver.opened[0]!;
    driver.behaviour = { ...answer, mode: 'silent' };
    clock.advance(9_800); // age 9 900
    expect(snap().ready).toBe(1);
    clock.advance(100); // age 10 000
    expect(first.state).toBe('released');
    expect(named('entry-expired')).toEqual([{ upstream: '10.0.0.2:80', id: first.id, ageMs: 10_000 }]);
    expect(mgr.take(A)).toBeUndefined();
    expect(snap()).toMatchObject({ expiredUnused: 1, ready: 0, misses: 1 });
  });

  it('evicts an entry the upstream resets', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 2, minSize: 0 });
    mgr.start();
    clock.advance(0);
    const [a, b] = driver.opened as [HalfOpen, HalfOpen];
    driver.synAck(a);
    driver.synAck(b);
    expect(snap().ready).toBe(2);
    driver.reset(a);
    expect(a.state).toBe('released');
    expect(snap().evicted.reset).toBe(1);
    expect(named('entry-evicted')[0]).toMatchObject({ id: a.id, reason: 'reset' });
    expect(mgr.take(A)).toBe(b);
    expect(snap().failures.refused).toBe(0); // not a failed handshake
  });

  it('recognises SYN-ACK retransmits as liveness, not as new entries', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 1 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(40_000);
    expect(snap()).toMatchObject({ ready: 1, synAcks: 1, synAckRetransmits: 5, synsSent: 1 });
    expect(snap().evicted['retransmit-overdue']).toBe(0);
  });

  it('evicts entries whose expected retransmit is overdue (pruned under pressure)', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 1 });
    driver.behaviour = { ...answer, retransmits: 2 }; // retransmits at 1 and 3 s, then the server drops it
    mgr.start();
    clock.advance(7_000);
    expect(snap().evicted['retransmit-overdue']).toBe(0);
    clock.advance(1_100); // the 7 s retransmit is over 1 s late
    expect(snap().evicted['retransmit-overdue']).toBe(1);
    const ev = named('entry-evicted')[0]!;
    expect(ev).toMatchObject({ reason: 'retransmit-overdue', id: driver.opened[0]!.id });
    expect(ev.ageMs as number).toBeGreaterThanOrEqual(8_005);
    expect(ev.ageMs as number).toBeLessThan(8_200);
  });

  it('backs off on timeouts, turns unreachable and probes slowly: bounded SYNs over 10 minutes', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 4 });
    driver.behaviour = { ...answer, mode: 'silent' };
    mgr.start();
    clock.advance(600_000);
    const s = snap();
    expect(s.state).toBe('unreachable');
    expect(s.failures.timeouts).toBe(driver.openCalls.length);
    // 4 at start, 4 retries with backoff, then probes at 5, 10, 20, 40, 60, 60 … s (+ 2 s timeout each).
    expect(driver.openCalls.length).toBeLessThanOrEqual(25);
    expect(driver.live()).toHaveLength(0); // every timed-out entry was released
    expect(named('upstream-state').map((e) => e.to)).toEqual(['backoff', 'unreachable']);
    const probes = named('syn-sent').filter((e) => e.purpose === 'probe');
    expect(probes.length).toBeGreaterThan(5);
    // One probe in flight at a time, at least 5 s apart.
    const probeTimes = driver.openCalls.slice(-probes.length).map((c) => c.at);
    for (let i = 1; i < probeTimes.length; i++) expect(probeTimes[i]! - probeTimes[i - 1]!).toBeGreaterThanOrEqual(5_000);

    driver.behaviour = answer; // the upstream comes back
    clock.advance(130_000);
    expect(snap()).toMatchObject({ state: 'ok', ready: 4 });
    expect(named('upstream-state').at(-1)).toMatchObject({ from: 'unreachable', to: 'ok', consecutiveFailures: 0 });
  });

  it('a timeout while the channel dropped packets is not an upstream failure: it stays ok and the SYN is sent again', () => {
    // The channel's receive buffer overflows for 20 s: every SYN-ACK is lost on our side.
    const { driver, mgr, snap, clock, named, run } = setup({ sizing: 'fixed', targetSize: 4, synRatePerSec: 10, synBurst: 4 });
    driver.behaviour = { ...answer, mode: 'silent' };
    mgr.start();
    run(20_000, 100, () => (driver.drops += 37));
    const s = snap();
    expect(s.state).toBe('ok');
    expect(named('upstream-state')).toEqual([]);
    expect(s.failures).toMatchObject({ timeouts: 0, consecutive: 0 });
    expect(s.failures.answerDropped).toBeGreaterThanOrEqual(4 * 9); // 4 pending at a time, a 2 s timeout, 20 s
    expect(named('syn-failed').every((e) => e.reason === 'answer-dropped')).toBe(true);
    // Re-sent, and still paced by the token bucket (burst + rate × 20 s).
    expect(driver.openCalls.length).toBe(s.failures.answerDropped + s.pending);
    expect(driver.openCalls.length).toBeLessThanOrEqual(4 + 10 * 20);
    expect(driver.live()).toHaveLength(s.pending);

    // The drops stop, the answers get through: the pool fills at once, never having left 'ok'.
    driver.behaviour = answer;
    clock.advance(2_100);
    clock.advance(1_000);
    expect(snap()).toMatchObject({ state: 'ok', ready: 4 });
  });

  it('one SYN unanswered while a later one is answered (a port the server holds in TIME-WAIT): no backoff, the pool refills at once', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 4 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(100);
    expect(snap()).toMatchObject({ ready: 4, state: 'ok' });
    // The replacement of the first take goes unanswered; the second take's is answered.
    driver.behaviour = { ...answer, mode: 'silent' };
    expect(mgr.take(A)).toBeDefined();
    clock.advance(50);
    driver.behaviour = answer;
    expect(mgr.take(A)).toBeDefined();
    clock.advance(50);
    expect(snap()).toMatchObject({ ready: 3, pending: 1 });
    const sentBefore = driver.openCalls.length;
    clock.advance(2_000); // the silent SYN's timeout
    const s = snap();
    expect(s.failures).toMatchObject({ timeouts: 0, isolatedTimeouts: 1, consecutive: 0 });
    expect(s.state).toBe('ok');
    expect(named('upstream-state')).toEqual([]);
    expect(named('syn-failed').map((e) => e.reason)).toEqual(['isolated-timeout']);
    // Its slot was refilled by the same tick's pass, not after a backoff delay.
    expect(driver.openCalls.length).toBe(sentBefore + 1);
    expect(driver.openCalls.at(-1)!.at - (driver.openCalls[sentBefore - 2]!.at + 2_000)).toBeLessThanOrEqual(2);
    clock.advance(10);
    expect(snap()).toMatchObject({ ready: 4, pending: 0, state: 'ok' });
  });

  it('a timeout with no later SYN answered still backs off', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 2 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(100);
    driver.behaviour = { ...answer, mode: 'silent' }; // the upstream goes quiet
    expect(mgr.take(A)).toBeDefined();
    clock.advance(50);
    expect(mgr.take(A)).toBeDefined();
    clock.advance(2_100);
    expect(snap().failures).toMatchObject({ timeouts: 2, isolatedTimeouts: 0 });
    expect(snap().state).toBe('backoff');
    expect(named('upstream-state').map((e) => e.to)).toEqual(['backoff']);
  });

  it('reads what the driver has received before it counts a timeout (timers run before I/O in a busy loop)', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 2 });
    mgr.start();
    clock.advance(1);
    expect(driver.opened).toHaveLength(2);
    driver.unread.push(...driver.opened); // both SYN-ACKs are in the kernel queue, not yet read
    clock.advance(1_000);
    expect(driver.pollCalls).toBe(0); // nothing is due yet: no extra syscalls
    clock.advance(1_100);
    expect(driver.pollCalls).toBeGreaterThanOrEqual(1);
    expect(snap()).toMatchObject({ state: 'ok', ready: 2, synAcks: 2 });
    expect(snap().failures.timeouts).toBe(0);
    expect(named('syn-failed')).toEqual([]);
  });

  it('drops before a SYN went out, or wrapping drop counters, do not excuse its timeout', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 1 });
    driver.behaviour = { ...answer, mode: 'silent' };
    driver.drops = 2 ** 32 - 1; // the kernel's u32 is about to wrap: only a change counts, not its sign
    mgr.start();
    clock.advance(2_100);
    expect(snap().failures).toMatchObject({ timeouts: 1, answerDropped: 0 });
    expect(snap().state).toBe('backoff');
    clock.advance(700); // the backoff's retry goes out (500 ms × jitter)
    expect(snap()).toMatchObject({ pending: 1, synsSent: 2 });
    driver.drops += 1; // wraps to 0 while the retry is pending
    clock.advance(2_000);
    expect(snap().failures).toMatchObject({ timeouts: 1, answerDropped: 1, consecutive: 1 });
    clock.advance(600_000);
    expect(snap().state).toBe('unreachable'); // no more drops: the silence is the upstream's
  });

  it('an overdue retransmit while the channel dropped packets evicts the entry but teaches no TTL', () => {
    const learnFrom = (drop: boolean) => {
      const t = setup({ sizing: 'fixed', targetSize: 1, ttlLearnMinSamples: 1 });
      // The 1 s retransmit arrives (the upstream is seen retransmitting, so a missing one
      // counts: retransmit-evidence.ts), then the server "prunes" the entry: the 3 s one is overdue at ~4 s.
      t.driver.behaviour = { ...answer, retransmits: 1 };
      t.mgr.start();
      t.clock.advance(1_500);
      if (drop) t.driver.drops += 1; // the 3 s retransmit may have been among them
      t.clock.advance(3_000);
      return t.snap();
    };
    const clean = learnFrom(false);
    const dropped = learnFrom(true);
    expect(clean.evicted['retransmit-overdue']).toBe(1);
    expect(dropped.evicted['retransmit-overdue']).toBe(1);
    expect(clean.learned.earlyDeaths).toBe(1);
    expect(clean.effectiveTtlMs).toBeLessThan(clean.configuredTtlMs);
    expect(dropped.learned.earlyDeaths).toBe(0);
    expect(dropped.effectiveTtlMs).toBe(dropped.configuredTtlMs);
  });

  it('counts a refused SYN as a failure', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 2 });
    driver.behaviour = { ...answer, mode: 'refuse' };
    mgr.start();
    clock.advance(600_000);
    expect(snap().failures.refused).toBe(driver.openCalls.length);
    expect(snap().state).toBe('unreachable');
    expect(driver.openCalls.length).toBeLessThanOrEqual(25);
    expect(driver.live()).toHaveLength(0);
  });

  it('survives driver.open() throwing: counted, backed off, never crashes the timer loop', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 4 });
    driver.openError = new CapabilityError('CAP_NET_RAW', 'raw socket');
    mgr.start();
    expect(() => clock.advance(600_000)).not.toThrow();
    expect(snap()).toMatchObject({ state: 'unreachable', synsSent: 0 });
    expect(snap().failures.openErrors).toBe(driver.openCalls.length);
    expect(driver.openCalls.length).toBeLessThanOrEqual(20);
    expect(named('syn-failed')[0]?.error).toBeInstanceOf(CapabilityError);
    driver.openError = undefined;
    driver.behaviour = answer;
    clock.advance(130_000);
    expect(snap()).toMatchObject({ state: 'ok', ready: 4 });
  });

  it('sizes the pool from the take() rate', () => {
    const { driver, mgr, snap, run } = setup({ synRatePerSec: 100, synBurst: 20, refillMarginMs: 100, safetyFactor: 2, burstEntries: 2 });
    driver.behaviour = { ...answer, rttMs: 50 };
    mgr.start();
    run(2_000, 50);
    expect(snap().computedTarget).toBe(2);
    expect(snap().ready).toBe(2);
    const taken: HalfOpen[] = [];
    run(60_000, 50, () => {
      const e = mgr.take(A);
      if (e !== undefined) taken.push(e);
    });
    const s = snap();
    // 20 takes/s × (50 ms RTT + 100 ms) × 2 + 2 = 8
    expect(s.demandPerSec).toBeGreaterThan(19);
    expect(s.demandPerSec).toBeLessThan(21);
    expect(s.computedTarget).toBe(8);
    expect(s.targetReady).toBe(8);
    expect(s.hits / (s.hits + s.misses)).toBeGreaterThan(0.95);
    run(120_000, 1_000);
    expect(snap().computedTarget).toBe(2);
    expect(snap().ready).toBe(2);
  });

  it('remembers a burst: the next one finds the pool its size; after burstMemoryMs it is forgotten', () => {
    const { driver, mgr, snap, run } = setup({ synRatePerSec: 200, synBurst: 50, maxOpensPerTick: 50, burstEntries: 2, burstMemoryMs: 30_000 });
    driver.behaviour = { ...answer, rttMs: 40 };
    mgr.start();
    run(2_000, 50);
    expect(snap().ready).toBe(2);
    const burst = (): number => {
      let hits = 0;
      for (let i = 0; i < 32; i++) if (mgr.take(A) !== undefined) hits++;
      return hits;
    };
    // The first burst meets the idle pool: 2 hits, 30 misses. All 32 count.
    expect(burst()).toBe(2);
    expect(snap().burstPeak).toBe(32);
    expect(snap().computedTarget).toBe(32);
    run(2_500, 50);
    expect(snap().ready).toBe(32);
    // A burst every 2.5 s: the rate alone (~13/s) would keep ceil(13 × 0.14 × 2) + 2 = 6.
    for (let k = 0; k < 4; k++) {
      expect(burst()).toBe(32);
      run(2_500, 50);
    }
    expect(snap().ready).toBe(32);
    // No burst for longer than the memory: the target falls back and the extra entries go at their
    // refresh (this setup keeps entries to their TTL: refreshed ~45 s after their SYN-ACK).
    run(60_000, 100);
    expect(snap().burstPeak).toBe(0);
    expect(snap().computedTarget).toBe(2);
    expect(snap().ready).toBeLessThanOrEqual(2 + 1);
    // burstMemoryMs 0: nothing remembered.
    const off = setup({ burstMemoryMs: 0 });
    off.driver.behaviour = answer;
    off.mgr.start();
    off.run(2_000, 50);
    for (let i = 0; i < 32; i++) off.mgr.take(A);
    expect(off.snap().burstPeak).toBe(0);
    expect(off.snap().computedTarget).toBeLessThan(32);
  });

  it('misses noted without a take (a keeper client told nothing was ready) count as a burst of takes on an empty pool does', () => {
    const { driver, mgr, snap, run, named } = setup({ synRatePerSec: 200, synBurst: 50, maxOpensPerTick: 50, burstEntries: 2, burstMemoryMs: 30_000 });
    driver.behaviour = { ...answer, rttMs: 40 };
    mgr.start();
    run(2_000, 50);
    expect(mgr.readyCount(A)).toBe(2);
    expect(mgr.readyCount(B)).toBeUndefined();
    // The client took the 2 it was told of and sent the other 30 plainly: the pool learns the burst of 32.
    for (let i = 0; i < 2; i++) expect(mgr.take(A)).toBeDefined();
    expect(mgr.readyCount(A)).toBe(0);
    mgr.noteMisses(A, 30);
    expect(snap()).toMatchObject({ hits: 2, misses: 30, burstPeak: 32, computedTarget: 32 });
    run(2_500, 50);
    expect(snap().ready).toBe(32);
    expect(mgr.readyCount(A)).toBe(32);
    // Only configured targets: an unknown one is a miss event, nothing opened.
    const opened = driver.openCalls.length;
    mgr.noteMisses(B, 2);
    expect(named('miss').filter((e) => e.reason === 'unknown-upstream')).toHaveLength(2);
    expect(driver.openCalls.length).toBe(opened);
  });

  it('a burst of takes is handed out before any refill opens: refills wait for a 2 ms pause, at most 15 ms', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 8, maxOpensPerTick: 50, synBurst: 50 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    expect(snap().ready).toBe(8);
    const opened = driver.openCalls.length;
    // Eight takes 1 ms apart: no SYN while they keep coming.
    for (let i = 0; i < 8; i++) {
      expect(mgr.take(A)).toBeDefined();
      clock.advance(1);
      expect(driver.openCalls.length).toBe(opened);
    }
    clock.advance(1); // 2 ms after the last take
    expect(driver.openCalls.length).toBe(opened + 8);
    // Takes that never pause are deferred at most 15 ms after the first.
    clock.advance(1_000);
    const before = driver.openCalls.length;
    const firstTakeAt = clock.now();
    let refilledAt: number | undefined;
    for (let i = 0; i < 40 && refilledAt === undefined; i++) {
      mgr.take(A);
      clock.advance(1);
      if (driver.openCalls.length > before) refilledAt = clock.now();
    }
    expect(refilledAt).toBeDefined();
    expect(refilledAt! - firstTakeAt).toBeLessThanOrEqual(16);
    expect(refilledAt! - firstTakeAt).toBeGreaterThanOrEqual(15);
    // A later burst, after the pool is full again and nothing needed refilling in between, is deferred again.
    clock.advance(1_000);
    expect(snap().ready).toBe(8);
    const again = driver.openCalls.length;
    for (let i = 0; i < 4; i++) {
      mgr.take(A);
      clock.advance(1);
      expect(driver.openCalls.length).toBe(again);
    }
  });

  it('caps the target at maxSize and at a quarter of the upstream backlog', () => {
    const { driver, mgr, snap, run } = setup({ sizing: 'fixed', targetSize: 500, upstreamBacklog: 40 });
    driver.behaviour = answer;
    mgr.start();
    run(30_000, 100);
    expect(snap()).toMatchObject({ cap: 10, targetReady: 10, ready: 10 });
  });

  it('with pool.fleetSize the snapshot\'s cap is the replica\'s share, and the pool stays within it', () => {
    const { driver, mgr, snap, run } = setup({ sizing: 'fixed', targetSize: 500, upstreamBacklog: 160, fleetSize: 4 });
    driver.behaviour = answer;
    mgr.start();
    run(30_000, 100);
    expect(snap()).toMatchObject({ cap: 10, targetReady: 10, ready: 10 }); // floor(160 / 4 / 4)
  });

  it('learns a shorter TTL when entries die early, and recovers later', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 2 });
    driver.behaviour = { ...answer, retransmits: 2 }; // the server keeps entries ~7 s
    mgr.start();
    clock.advance(9_000);
    const learned = named('ttl-learned');
    expect(learned).toHaveLength(1);
    expect(learned[0]).toMatchObject({ upstream: '10.0.0.2:80', previousTtlMs: 50_000, reason: 'early-death' });
    const ttl = snap().effectiveTtlMs;
    expect(ttl).toBeGreaterThan(5_000);
    expect(ttl).toBeLessThan(7_000);
    expect(snap().learned.observedLifetimeMs).toBeGreaterThan(7_000);
    // Entries are now replaced before the server drops them: no more overdue evictions.
    const overdue = snap().evicted['retransmit-overdue'];
    clock.advance(20_000);
    expect(snap().evicted['retransmit-overdue']).toBe(overdue);
    // Upstream relieved: after the quiet period the TTL grows again.
    driver.behaviour = answer;
    clock.advance(200_000);
    expect(snap().effectiveTtlMs).toBe(50_000);
    expect(named('ttl-learned').at(-1)).toMatchObject({ reason: 'recovery', ttlMs: 50_000 });
  });

  it('learns from reportDead(entry): the age at take time, once per entry', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 4 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(12_000);
    const e1 = mgr.take(A)!;
    expect(mgr.reportDead(e1)).toBe(true);
    expect(snap().effectiveTtlMs).toBe(50_000); // one observation is not enough
    // A new generation of entries (opened REFILL_QUIET_MS = 2 ms after the take), 12 s old when the next one is taken.
    clock.advance(12_002);
    const e2 = mgr.take(A)!;
    expect(e2.sentAt).toBeGreaterThan(e1.sentAt);
    expect(mgr.reportDead(e2)).toBe(true);
    expect(snap().effectiveTtlMs).toBe(9_600); // both were 12 s old when taken: 0.8 × 12 000
    expect(snap()).toMatchObject({ deadOnUse: 2, learned: { earlyDeaths: 2 } });
    expect(mgr.reportDead(e2)).toBe(false); // already reported: nothing more to learn
    expect(mgr.reportDead({ id: 10_000, target: A })).toBe(false); // never handed out
    expect(mgr.reportDead({ id: e1.id, target: B })).toBe(false); // unknown upstream
    expect(snap()).toMatchObject({ deadOnUse: 2, learned: { earlyDeaths: 2 }, effectiveTtlMs: 9_600 });
  });

  it('a death on use evicts the ready entries opened before it was taken, and counts as one observation', () => {
    const { driver, mgr, snap, clock, named } = setup({ sizing: 'fixed', targetSize: 4 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(2_000);
    const dead = mgr.take(A)!;
    // The upstream restarts: every entry it held is gone. The first use reports it.
    clock.advance(40);
    mgr.reportDead(dead);
    const siblings = named('entry-evicted').filter((e) => e.reason === 'sibling-dead');
    expect(siblings).toHaveLength(3);
    expect(snap().evicted['sibling-dead']).toBe(3);
    expect(snap().learned.earlyDeaths).toBe(1);
    expect(snap().effectiveTtlMs).toBe(50_000);
    // The pool refills with fresh entries; nothing opened before the take is handed out.
    clock.advance(1_000);
    expect(snap().ready).toBe(4);
    const next = mgr.take(A)!;
    expect(next.sentAt).toBeGreaterThan(dead.sentAt);
  });

  it('take() prefers the oldest entry', () => {
    const { driver, mgr, clock, named } = setup({ sizing: 'fixed', targetSize: 3, synRatePerSec: 1, synBurst: 1, synAckTimeoutMs: 10_000 });
    mgr.start();
    clock.advance(2_500);
    const [e1, e2, e3] = driver.opened as [HalfOpen, HalfOpen, HalfOpen];
    expect(driver.opened).toHaveLength(3);
    // SYN-ACKs arrive newest first; the pool still orders by age.
    driver.synAck(e3);
    driver.synAck(e2);
    driver.synAck(e1);
    expect([mgr.take(A), mgr.take(A), mgr.take(A)]).toEqual([e1, e2, e3]);
    expect(named('hit').map((h) => h.id)).toEqual([e1.id, e2.id, e3.id]);
  });

  it('never opens anything for a target that is not configured', () => {
    const { driver, mgr, clock, named } = setup({ sizing: 'fixed', targetSize: 2 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    const stranger = { address: '192.0.2.1', port: 80 };
    for (let i = 0; i < 10; i++) expect(mgr.take(stranger)).toBeUndefined();
    expect(mgr.acquire(stranger)).toBeUndefined();
    clock.advance(60_000);
    expect(driver.openCalls.every((c) => c.target.address === A.address && c.target.port === A.port)).toBe(true);
    expect(named('miss').filter((m) => m.reason === 'unknown-upstream')).toHaveLength(11);
    expect(mgr.snapshot()).toHaveLength(1);
  });

  it('acquire() hands off; on a failing handoff it releases that entry and tries the next once', () => {
    const { driver, mgr, snap, clock } = setup({ sizing: 'fixed', targetSize: 4 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    expect(mgr.acquire(A)).toBeInstanceOf(Socket);
    expect(driver.handedOff).toHaveLength(1);

    const handoff = driver.handoff.bind(driver);
    let calls = 0;
    driver.handoff = (e) => {
      if (calls++ === 0) throw new SyscallError('setsockopt(TCP_REPAIR)', 1, 'EPERM');
      return handoff(e);
    };
    expect(mgr.acquire(A)).toBeInstanceOf(Socket);
    expect(snap().evicted['handoff-failed']).toBe(1);
    expect(driver.released).toHaveLength(1);

    clock.advance(1_000); // refilled
    driver.handoff = () => {
      throw new SyscallError('connect', 22, 'EINVAL');
    };
    expect(mgr.acquire(A)).toBeUndefined();
    expect(snap().evicted['handoff-failed']).toBe(3);
  });

  it('close() releases every entry, stops, and is idempotent', () => {
    const { driver, mgr, clock, snap } = setup({ sizing: 'fixed', targetSize: 6, maxOpensPerTick: 4 }, [
      { target: B, sizing: 'fixed', targetSize: 3, maxSynAckRetransmits: 5 },
    ]);
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    driver.behaviour = undefined;
    clock.advance(10_000);
    const mine = mgr.take(A)!;
    driver.opened.slice(-1).forEach((e) => expect(e.state).toBe('established'));
    expect(snap(B).ready).toBe(3);
    mgr.close();
    mgr.close();
    expect(driver.live()).toEqual([mine]);
    expect(driver.released).toHaveLength(driver.opened.length - 1);
    const opens = driver.openCalls.length;
    clock.advance(600_000);
    expect(driver.openCalls).toHaveLength(opens);
    expect(mgr.take(A)).toBeUndefined();
    expect(driver.listenerCount('synack')).toBe(0);
  });

  it('does not open before start()', () => {
    const { driver, mgr, clock, named } = setup();
    driver.behaviour = answer;
    clock.advance(10_000);
    expect(driver.openCalls).toHaveLength(0);
    expect(mgr.take(A)).toBeUndefined();
    expect(named('miss')).toEqual([{ upstream: '10.0.0.2:80', reason: 'not-started' }]);
  });
});

describe('PoolManager: targets added and removed at run time', () => {
  it('addUpstream starts filling a new pool at once; removeUpstream releases every entry and misses after', () => {
    const { driver, mgr, clock, snap, named } = setup({ sizing: 'fixed', targetSize: 3 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(1_000);
    expect(mgr.addUpstream({ target: B, sizing: 'fixed', targetSize: 2 })).toBe(true);
    expect(mgr.addUpstream({ target: B })).toBe(false); // already pooled
    clock.advance(1_000);
    expect(snap(B)).toMatchObject({ ready: 2 });
    const bOpened = driver.opened.filter((e) => e.target === B).length;
    expect(mgr.removeUpstream(B)).toBe(true);
    expect(mgr.removeUpstream(B)).toBe(false);
    expect(driver.released.filter((e) => e.target === B)).toHaveLength(bOpened);
    expect(mgr.snapshot().map((s) => s.upstream)).toEqual(['10.0.0.2:80']);
    expect(mgr.take(B)).toBeUndefined();
    expect(named('miss').at(-1)).toMatchObject({ upstream: '10.0.0.3:8080', reason: 'unknown-upstream' });
    clock.advance(60_000);
    expect(driver.openCalls.filter((c) => c.target === B)).toHaveLength(bOpened); // no SYN after removal
  });

  it('a pool added before start() waits for it; none is added after close()', () => {
    const { driver, mgr, clock } = setup({ sizing: 'fixed', targetSize: 1 });
    driver.behaviour = answer;
    mgr.addUpstream({ target: B, sizing: 'fixed', targetSize: 1 });
    clock.advance(1_000);
    expect(driver.openCalls).toHaveLength(0);
    mgr.start();
    clock.advance(1_000);
    expect(driver.openCalls.map((c) => c.target)).toEqual(expect.arrayContaining([A, B]));
    mgr.close();
    expect(mgr.addUpstream({ target: { address: '10.0.0.9', port: 80 } })).toBe(false);
  });
});
