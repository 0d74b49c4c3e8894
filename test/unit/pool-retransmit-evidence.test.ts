// A missing SYN-ACK retransmit is evidence of a dead entry only against an
// upstream seen retransmitting. An upstream answering with SYN cookies never
// retransmits, yet its entries stay good for minutes: the pool must keep them
// for their TTL instead of refreshing without end. A restart of an upstream
// that does retransmit is still caught by the missing retransmits.
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import type { PoolSnapshot } from '../../src/pool/pool-events.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import { RetransmitEvidence, retransmitTrustWindowMs } from '../../src/pool/retransmit-evidence.js';
import { FakeHandshakeDriver, type FakeUpstreamBehaviour } from '../helpers/fake-handshake-driver.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };
const retransmitting: FakeUpstreamBehaviour = { mode: 'answer', rttMs: 40, retransmits: 5 };
const cookies: FakeUpstreamBehaviour = { mode: 'answer', rttMs: 40, retransmits: 0 };

function setup(behaviour: FakeUpstreamBehaviour, pool: Partial<UpstreamPoolConfig> = {}) {
  const clock = new FakeClock(1_000);
  const driver = new FakeHandshakeDriver(clock);
  driver.behaviour = behaviour;
  // Entries must outlive several retransmits here (a restart shows as the 7 s
  // retransmit missing), so they are not replaced after their first one
  // (maxSynAckRetransmits 5: live to the TTL; the default is covered in
  // pool-full-window.test.ts, including against cookies).
  const mgr = new PoolManager({ driver, clock, random: () => 0.5, upstreams: [{ target: A, maxSynAckRetransmits: 5, ...pool }] });
  const snap = (): PoolSnapshot => mgr.snapshot()[0]!;
  return { clock, driver, mgr, snap };
}

describe('RetransmitEvidence', () => {
  it('vouches for the upstream for one window (plus the grace) after a retransmit, never before one', () => {
    const ev = new RetransmitEvidence(retransmitTrustWindowMs(1_000, 5));
    expect(retransmitTrustWindowMs(1_000, 5)).toBe(32_000);
    expect(ev.trusted(0, 1_000)).toBe(false);
    ev.seen(10_000);
    expect(ev.trusted(10_000 + 33_000, 1_000)).toBe(true);
    expect(ev.trusted(10_000 + 33_001, 1_000)).toBe(false);
  });
});

describe('an upstream that answers with SYN cookies (no retransmits)', () => {
  it('keeps idle entries for their TTL: a few SYNs in two minutes, not a refresh every 2 s', () => {
    const { clock, mgr, snap } = setup(cookies);
    mgr.start();
    clock.advance(22_000);
    expect(snap()).toMatchObject({ ready: 2, retransmitsTrusted: false, effectiveTtlMs: 50_000 });
    expect(snap().synsSent).toBe(2);
    clock.advance(98_000);
    const s = snap();
    expect(s.evicted['retransmit-overdue']).toBe(0);
    expect(s.learned.earlyDeaths).toBe(0);
    // Two entries refreshed about every 45 s: 2 + 2 × 2 within 120 s.
    expect(s.synsSent).toBeLessThanOrEqual(6);
    expect(s.ready).toBe(2);
  });

  it('costs ≤ 1.1 SYNs per request at one request per second', () => {
    const { clock, mgr, snap } = setup(cookies);
    mgr.start();
    clock.advance(5_000);
    const before = snap().synsSent;
    let hits = 0;
    for (let i = 0; i < 120; i++) {
      if (mgr.take(A) !== undefined) hits++;
      clock.advance(1_000);
    }
    const syns = snap().synsSent - before;
    expect(hits).toBe(120);
    expect(syns / 120).toBeLessThanOrEqual(1.1);
    expect(snap().effectiveTtlMs).toBe(50_000);
  });

  it('still learns from a death on use: a restart shows as a reset before any byte was acknowledged', () => {
    const { clock, mgr, snap } = setup(cookies, { sizing: 'fixed', targetSize: 4 });
    mgr.start();
    clock.advance(10_000);
    expect(snap().ready).toBe(4);
    const dead = mgr.take(A)!;
    mgr.reportDead(dead);
    expect(snap()).toMatchObject({ deadOnUse: 1, learned: { earlyDeaths: 1 } });
    expect(snap().evicted['sibling-dead']).toBe(3);
  });
});

describe('an upstream that retransmits', () => {
  it('trusts the retransmits once it has seen one: a restart (all retransmits stop) evicts every entry', () => {
    const { clock, driver, mgr, snap } = setup(retransmitting, { sizing: 'fixed', targetSize: 4 });
    mgr.start();
    expect(snap().retransmitsTrusted).toBe(false);
    clock.advance(1_500);
    expect(snap().retransmitsTrusted).toBe(true);
    clock.advance(2_000); // the 3 s retransmits arrived too
    // The restart: the server forgets every entry it held and sends nothing more for them.
    const old = driver.live();
    for (const e of old) driver.forget(e);
    clock.advance(3_500); // the 7 s retransmits (at 7.04 s) are not yet over the grace
    expect(snap().evicted['retransmit-overdue']).toBe(0);
    clock.advance(1_200);
    expect(snap().evicted['retransmit-overdue']).toBe(4);
    expect(old.every((e) => e.state === 'released')).toBe(true);
    clock.advance(500);
    expect(snap().ready).toBe(4);
  });

  it('after a switch to SYN cookies the overdue evictions stop within a trust window, and the TTL recovers', () => {
    const { clock, driver, mgr, snap } = setup(retransmitting);
    mgr.start();
    clock.advance(5_000); // retransmits at 1 and 3 s seen
    expect(snap().retransmitsTrusted).toBe(true);
    // From now on the server answers with cookies only (a SYN flood on it, say):
    // old entries keep their retransmit schedule, new ones never retransmit.
    driver.behaviour = cookies;
    clock.advance(200_000);
    const mid = snap();
    expect(mid.retransmitsTrusted).toBe(false);
    clock.advance(200_000);
    const end = snap();
    expect(end.evicted['retransmit-overdue']).toBe(mid.evicted['retransmit-overdue']);
    expect(end.effectiveTtlMs).toBe(50_000);
    clock.advance(100_000);
    expect(snap().synsSent - end.synsSent).toBeLessThanOrEqual(6); // idle: two entries, refreshed every ~45 s
    expect(snap().ready).toBe(2);
  });
});
