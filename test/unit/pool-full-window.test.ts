// Linux starts a passive connection with a congestion window of 1 instead of
// 10 when its SYN-ACK went out three times or more (tcp_init_transfer:
// total_retrans > 1), and our first segment cannot prove those retransmits
// spurious (it echoes TSecr 0). So the pool hands out, and keeps refreshed,
// entries the server has retransmitted at most maxSynAckRetransmits times,
// and falls back to an older one only when nothing younger is ready. Against a
// SYN-cookie upstream (no retransmits, total_retrans 0) nothing ages.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import { resolvePoolConfig, type UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import type { PoolEvents, PoolSnapshot } from '../../src/pool/pool-events.js';
import { MAX_HOLD_MS, PoolManager } from '../../src/pool/pool-manager.js';
import { FakeHandshakeDriver, type FakeUpstreamBehaviour } from '../helpers/fake-handshake-driver.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };
// The fake server retransmits at 1, 3, 7, 15, 31 s after its first SYN-ACK.
const retransmitting: FakeUpstreamBehaviour = { mode: 'answer', rttMs: 40, retransmits: 5 };
const cookies: FakeUpstreamBehaviour = { mode: 'answer', rttMs: 40, retransmits: 0 };

type Hit = PoolEvents['hit'][0];

function setup(behaviour: FakeUpstreamBehaviour, pool: Partial<UpstreamPoolConfig> = {}) {
  const clock = new FakeClock(1_000);
  const driver = new FakeHandshakeDriver(clock);
  driver.behaviour = behaviour;
  let r = 0;
  // A different jitter per entry, as Math.random would give.
  const random = (): number => (r = (r * 7 + 3) % 10) / 10;
  const mgr = new PoolManager({ driver, clock, random, upstreams: [{ target: A, ...pool }] });
  const hits: Hit[] = [];
  mgr.on('hit', (e) => hits.push(e));
  const snap = (): PoolSnapshot => mgr.snapshot()[0]!;
  return { clock, driver, mgr, snap, hits };
}

describe('maxSynAckRetransmits', () => {
  it('is validated: an integer in 0..10, default 1', () => {
    expect(resolvePoolConfig({ target: A }).maxSynAckRetransmits).toBe(1);
    expect(() => resolvePoolConfig({ target: A, maxSynAckRetransmits: -1 })).toThrow(ConfigError);
    expect(() => resolvePoolConfig({ target: A, maxSynAckRetransmits: 1.5 })).toThrow(/maxSynAckRetransmits/);
    expect(() => resolvePoolConfig({ target: A, maxSynAckRetransmits: 11 })).toThrow(/0\.\.10/);
  });
});

describe('an idle pool against an upstream that retransmits', () => {
  it('hands out only entries seen with at most one retransmit, whenever the request comes', () => {
    const { clock, mgr, hits } = setup(retransmitting);
    mgr.start();
    clock.advance(10_000);
    // One take every 1.7 s for two minutes: each meets a pool idle for 1.7 s,
    // at a different phase of the entries' refresh cycle.
    for (let i = 0; i < 70; i++) {
      clock.advance(1_700);
      expect(mgr.take(A)).toBeDefined();
    }
    expect(hits).toHaveLength(70);
    for (const h of hits) {
      expect(h.fullWindow).toBe(true);
      expect(h.synAcks).toBeLessThanOrEqual(2);
      // The server's second retransmit is due 3 s after its first SYN-ACK (3.04 s after our SYN).
      expect(h.ageMs).toBeLessThan(3_040 - 40);
    }
    expect(mgr.snapshot()[0]!.agedHits).toBe(0);
  });

  it('prefers the oldest entry still within the bound: one retransmit (no RTT sample, full window) over none', () => {
    const { clock, mgr, driver, hits } = setup(retransmitting, { sizing: 'fixed', targetSize: 2 });
    mgr.start();
    clock.advance(100); // two entries, SYN-ACKs at 40 ms
    clock.advance(1_500); // both have seen their first retransmit (1.04 s)
    const extra = mgr.take(A)!; // one goes; its replacement is fresh (1 SYN-ACK)
    clock.advance(100);
    expect(hits[0]!.synAcks).toBe(2);
    expect(mgr.take(A)!.id).not.toBe(extra.id);
    expect(hits[1]).toMatchObject({ synAcks: 2, fullWindow: true });
    expect(driver.opened.length).toBeGreaterThanOrEqual(3);
  });

  it('replaces entries before their second retransmit: the idle SYN cost, against 5 (the old behaviour)', () => {
    const young = setup(retransmitting);
    young.mgr.start();
    young.clock.advance(120_000);
    const old = setup(retransmitting, { maxSynAckRetransmits: 5 });
    old.mgr.start();
    old.clock.advance(120_000);
    // Two idle entries (burstEntries), each replaced every ~2.6-2.7 s: ~45 per entry in 120 s.
    expect(young.snap().synsSent).toBeGreaterThan(70);
    expect(young.snap().synsSent).toBeLessThan(110);
    // Before: each entry lives to its refresh at 40-45 s.
    expect(old.snap().synsSent).toBeLessThanOrEqual(8);
    // Never more than the target plus the replacements in flight, nothing expired, none overdue.
    expect(young.snap().ready + young.snap().pending).toBeLessThanOrEqual(4);
    expect(young.snap().expiredUnused).toBe(0);
    expect(young.snap().evicted['retransmit-overdue']).toBe(0);
    // No entry ever reached the server's second retransmit (at 3 s): the fake counts what it sent.
    expect(young.snap().synAckRetransmits).toBeLessThanOrEqual(young.snap().synAcks);
  });

  it('falls back to an older entry when nothing younger is ready, and counts it', () => {
    const { clock, mgr, driver, snap, hits } = setup(retransmitting, { sizing: 'fixed', targetSize: 1 });
    mgr.start();
    clock.advance(1_500);
    driver.behaviour = { ...retransmitting, mode: 'silent' }; // replacements never answer
    clock.advance(4_000); // the entry (5.5 s old) has seen 3 SYN-ACKs and is kept while nothing replaces it
    expect(snap().ready).toBe(1);
    expect(mgr.take(A)).toBeDefined();
    expect(hits[0]).toMatchObject({ synAcks: 3, fullWindow: false });
    expect(snap()).toMatchObject({ hits: 1, agedHits: 1 });
  });

  it('an entry seen retransmitted twice is past the bound even if its timing said otherwise', () => {
    // A server whose retransmit timer is shorter than configured: the count decides.
    const { clock, mgr, driver, hits } = setup(retransmitting, { sizing: 'fixed', targetSize: 1, synAckRetransmitFirstMs: 3_000 });
    mgr.start();
    clock.advance(1_000);
    driver.behaviour = { ...retransmitting, mode: 'silent' };
    clock.advance(2_500); // 3 SYN-ACKs seen (0.04, 1.04, 3.04 s); the timing bound would be 3 × 3 s
    mgr.take(A);
    expect(hits[0]).toMatchObject({ synAcks: 3, fullWindow: false });
  });

  it('maxSynAckRetransmits 0: entries go out before their first retransmit', () => {
    const { clock, mgr, hits } = setup(retransmitting, { maxSynAckRetransmits: 0 });
    mgr.start();
    clock.advance(5_000);
    for (let i = 0; i < 20; i++) {
      clock.advance(1_300);
      mgr.take(A);
    }
    expect(hits.every((h) => h.synAcks === 1 && h.fullWindow)).toBe(true);
  });
});

describe('an upstream that answers with SYN cookies', () => {
  it('nothing ages: entries are kept to their TTL and handed out as full-window hits', () => {
    const { clock, mgr, snap, hits } = setup(cookies);
    mgr.start();
    clock.advance(30_000);
    expect(mgr.take(A)).toBeDefined();
    expect(hits[0]!.fullWindow).toBe(true);
    expect(hits[0]!.ageMs).toBeGreaterThan(29_000);
    clock.advance(90_000);
    // Two entries refreshed at ~40-45 s, plus the one taken: a handful of SYNs, not one per entry every 3 s.
    expect(snap().synsSent).toBeLessThanOrEqual(10);
    expect(snap().agedHits).toBe(0);
  });
});

describe('held handoffs (acquireHeldFd)', () => {
  it('take the youngest usable entry, which may wait until its full window ends; acquireFd still takes the oldest', () => {
    // One SYN a second: entries 1 s apart in age.
    const { clock, driver, mgr, hits } = setup(retransmitting, { sizing: 'fixed', targetSize: 3, synRatePerSec: 1, synBurst: 1 });
    mgr.start();
    clock.advance(2_100);
    const held = mgr.acquireHeldFd(A);
    expect(held).toBeDefined();
    expect(driver.held.map((e) => e.id)).toEqual([held!.entry.id]);
    // The newest entry: its SYN went out ~2 s in, its SYN-ACK 40 ms later.
    expect(hits.at(-1)!.ageMs).toBeLessThan(200);
    // Its window ends 3 s (F × (2^2 − 1)) after its first SYN-ACK, less one RTT and the 100 ms margin.
    expect(held!.holdMs).toBeGreaterThan(2_500);
    expect(held!.holdMs).toBeLessThan(3_000);
    const plain = mgr.acquireFd(A);
    expect(plain).toBeDefined();
    expect(hits.at(-1)!.ageMs).toBeGreaterThan(2_000);
  });

  it('against an upstream that never retransmits (SYN cookies) the hold is bounded by MAX_HOLD_MS', () => {
    const { clock, mgr } = setup(cookies, { sizing: 'fixed', targetSize: 1 });
    mgr.start();
    clock.advance(500);
    expect(mgr.acquireHeldFd(A)?.holdMs).toBe(MAX_HOLD_MS);
  });

  it('an empty pool holds nothing', () => {
    const { mgr } = setup(retransmitting, { sizing: 'fixed', targetSize: 1 });
    expect(mgr.acquireHeldFd(A)).toBeUndefined();
  });
});
