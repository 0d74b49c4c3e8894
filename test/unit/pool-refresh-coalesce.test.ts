// An idle pool replaces its entries a little before their full window ends.
// Replaced one by one, each replacement is a wake-up of the keeper for its
// SYN, another for its SYN-ACK and another for the server's retransmit; on a
// paravirtualized host each wake-up after a pause costs ~1 ms of CPU. A tick
// that replaces one entry therefore also replaces those due within
// REFRESH_COALESCE_MS (at most an eighth of an entry's life), so entries that
// came in at different times fall into step, in groups, and are replaced together.
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };

function staggeredPool() {
  const clock = new FakeClock(1_000);
  const driver = new FakeHandshakeDriver(clock);
  driver.behaviour = { mode: 'answer', rttMs: 40, retransmits: 5 };
  let r = 0;
  const random = (): number => (r = (r * 7 + 3) % 10) / 10;
  const mgr = new PoolManager({ driver, clock, random, upstreams: [{ target: A, sizing: 'fixed', targetSize: 8 }] });
  const evictedAges: number[] = [];
  mgr.on('entry-evicted', (e) => {
    if (e.reason === 'refreshed') evictedAges.push(e.ageMs);
  });
  mgr.start();
  clock.advance(1_000);
  // Take the entries 120 ms apart: their replacements are opened at eight different times.
  for (let i = 0; i < 8; i++) {
    expect(mgr.take(A)).toBeDefined();
    clock.advance(120);
  }
  return { clock, driver, mgr, evictedAges };
}

describe('refreshes of an idle pool are coalesced', () => {
  it('entries opened at different times come to be replaced together, in few ticks', () => {
    const { clock, driver, mgr, evictedAges } = staggeredPool();
    clock.advance(30_000); // falling into step
    const from = clock.now();
    const before = driver.opened.length;
    clock.advance(30_000);
    const refreshes = driver.opened.slice(before);
    const sendTimes = new Set(refreshes.map((e) => e.sentAt));
    // Every entry is replaced about every 2.6 s: ~90 SYNs in 30 s.
    expect(refreshes.length).toBeGreaterThan(70);
    // Replaced one by one, there is a send time per SYN (87 of 88 with the coalescing
    // turned off); here the eight fall into three groups more than the window apart.
    expect(sendTimes.size).toBeLessThanOrEqual(Math.ceil(refreshes.length / 2));
    expect(refreshes.every((e) => e.sentAt >= from)).toBe(true);
    // Nothing was replaced more than an eighth of its life early: never before 7/8 of the
    // ~2.66 s full window (3 s after the first SYN-ACK, less RTT, margin and refresh lead).
    const young = Math.min(...evictedAges.slice(-refreshes.length));
    expect(young).toBeGreaterThan(2_000);
    const s = mgr.snapshot()[0]!;
    expect(s.ready).toBe(8);
    expect(s.ready + s.pending).toBeLessThanOrEqual(16);
    expect(s.evicted['retransmit-overdue']).toBe(0);
    expect(s.expiredUnused).toBe(0);
  });

  it('costs few SYNs: about what replacing each entry at its own time costs', () => {
    const { clock, driver } = staggeredPool();
    const before = driver.opened.length;
    clock.advance(60_000);
    // 8 entries, each life ≥ 7/8 of ~2.6 s: at most ~211 in 60 s; one by one they would be ~185.
    expect(driver.opened.length - before).toBeLessThanOrEqual(211);
  });

  it('the ready count told to workers leaves out the stale entries a refresh is replacing', () => {
    const { clock, mgr } = staggeredPool();
    clock.advance(30_000);
    let most = 0;
    let mostTold = 0;
    // The keeper reads the count when an entry turns ready (its `ready` notice), before the next tick.
    mgr.on('entry-ready', () => {
      most = Math.max(most, mgr.snapshot()[0]!.ready);
      mostTold = Math.max(mostTold, mgr.readyCount(A)!);
    });
    clock.advance(10_000);
    // Replacements are ready before the entries they replace are evicted: the list holds both.
    expect(most).toBeGreaterThan(8);
    expect(mostTold).toBe(8);
  });
});
