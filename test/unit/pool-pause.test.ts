// PoolManager.pause (an ejected server's pools send no SYN) and reconfigureUpstream
// (a new share of an upstream's budget resizes a pool in place), on the fake driver
// with the injected clock.
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import type { PoolEvents } from '../../src/pool/pool-events.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };
const answer = { mode: 'answer', rttMs: 5, retransmits: 5 } as const;

function setup(pool: Partial<UpstreamPoolConfig> = {}) {
  const clock = new FakeClock(1_000);
  const driver = new FakeHandshakeDriver(clock);
  const base = { target: A, sizing: 'fixed', targetSize: 4, maxSynAckRetransmits: 5, ...pool } as UpstreamPoolConfig;
  const mgr = new PoolManager({ driver, clock, random: () => 0.5, upstreams: [base] });
  const paused: PoolEvents['paused'][0][] = [];
  mgr.on('paused', (e) => paused.push(e));
  const snap = () => mgr.snapshot()[0]!;
  return { clock, driver, mgr, base, paused, snap };
}

describe('a paused pool', () => {
  it('sends no SYN while paused, still hands out what is ready, and refills on resume', () => {
    const { clock, driver, mgr, paused, snap } = setup();
    driver.behaviour = answer;
    mgr.start();
    clock.advance(500);
    expect(snap()).toMatchObject({ ready: 4, paused: false });
    const sent = driver.openCalls.length;

    expect(mgr.pause(A, true)).toBe(true);
    expect(mgr.pause(A, true)).toBe(false); // already paused: no second event
    expect(paused).toEqual([{ upstream: '10.0.0.2:80', paused: true }]);
    expect(snap().paused).toBe(true);
    expect(mgr.isPaused(A)).toBe(true);
    // Ready entries are not released: one serves a request (the probe), no refill follows.
    expect(driver.released).toHaveLength(0);
    expect(mgr.take(A)).toBeDefined();
    clock.advance(10_000);
    expect(driver.openCalls).toHaveLength(sent);
    expect(snap().ready).toBe(3);

    mgr.pause(A, false);
    expect(paused.at(-1)).toEqual({ upstream: '10.0.0.2:80', paused: false });
    clock.advance(500);
    expect(snap()).toMatchObject({ ready: 4, paused: false });
    expect(driver.openCalls).toHaveLength(sent + 1);
  });

  it('does not refresh: ready entries expire at their TTL and are not replaced', () => {
    const { clock, driver, mgr } = setup({ ttlMs: 10_000, refreshLeadMs: 1_000, ttlFloorMs: 1_000 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(500);
    const sent = driver.openCalls.length;
    mgr.pause(A, true);
    clock.advance(30_000);
    expect(driver.openCalls).toHaveLength(sent);
    expect(mgr.snapshot()[0]).toMatchObject({ ready: 0, expiredUnused: 4 });
  });

  it('sends no backoff retry or unreachable probe either (the pool own backoff is not enough)', () => {
    const { clock, driver, mgr, snap } = setup({ synAckTimeoutMs: 100, backoffBaseMs: 100, backoffMaxMs: 200, probeIntervalMs: 500, probeIntervalMaxMs: 500 });
    driver.behaviour = { mode: 'silent', rttMs: 5, retransmits: 0 };
    mgr.start();
    clock.advance(5_000);
    expect(snap().state).toBe('unreachable');
    mgr.pause(A, true);
    clock.advance(1_000); // what was pending times out
    const sent = driver.openCalls.length;
    clock.advance(60_000);
    expect(driver.openCalls).toHaveLength(sent);
    mgr.pause(A, false);
    clock.advance(1_000);
    expect(driver.openCalls.length).toBeGreaterThan(sent);
  });

  it('stays paused across a restart with new settings; a pool added while paused starts paused; removeUpstream forgets it', () => {
    const { clock, driver, mgr, base } = setup();
    driver.behaviour = answer;
    mgr.start();
    clock.advance(500);
    mgr.pause(A, true);
    expect(mgr.reconfigureUpstream({ ...base, ttlMs: 40_000 })).toBe('restarted');
    expect(mgr.isPaused(A)).toBe(true);
    const sent = driver.openCalls.length;
    clock.advance(5_000);
    expect(driver.openCalls).toHaveLength(sent);

    mgr.removeUpstream(A);
    mgr.addUpstream(base);
    expect(mgr.isPaused(A)).toBe(false);

    const B: Endpoint = { address: '10.0.0.3', port: 80 };
    mgr.pause(B, true); // no pool yet: remembered
    mgr.addUpstream({ ...base, target: B });
    expect(mgr.isPaused(B)).toBe(true);
  });
});

describe('reconfigureUpstream', () => {
  it('a new share (sizes only) resizes in place: entries and learning kept; a larger one fills', () => {
    const { clock, driver, mgr, base, snap } = setup();
    driver.behaviour = answer;
    mgr.start();
    clock.advance(500);
    const rtt = snap().synAckRtt.ewmaMs;
    expect(mgr.reconfigureUpstream({ ...base })).toBe('unchanged');
    expect(mgr.reconfigureUpstream({ ...base, targetSize: 6, maxSize: 32 })).toBe('resized');
    expect(driver.released).toHaveLength(0);
    clock.advance(500);
    // Counters and the RTT carry on from before the resize: the same pool.
    expect(snap()).toMatchObject({ ready: 6, targetReady: 6, cap: 32, synsSent: 6, synAcks: 6 });
    expect(snap().synAckRtt.ewmaMs).toBe(rtt);
  });

  it('a smaller share releases nothing at once: the surplus is not refreshed', () => {
    const { clock, driver, mgr, base, snap } = setup({ targetSize: 6, ttlMs: 10_000, refreshLeadMs: 1_000, ttlFloorMs: 1_000 });
    driver.behaviour = answer;
    mgr.start();
    clock.advance(500);
    expect(mgr.reconfigureUpstream({ ...base, targetSize: 2, ttlMs: 10_000, refreshLeadMs: 1_000, ttlFloorMs: 1_000 })).toBe('resized');
    clock.advance(10);
    expect(snap().ready).toBe(6);
    expect(driver.released).toHaveLength(0);
    // Past the refresh age: only the new target is replaced, the surplus goes.
    clock.advance(12_000);
    expect(snap().ready).toBe(2);
    expect(snap().synsSent).toBeLessThanOrEqual(6 + 2 * 2);
  });

  it('any other change restarts the pool (entries released)', () => {
    const { clock, driver, mgr, base } = setup();
    driver.behaviour = answer;
    mgr.start();
    clock.advance(500);
    expect(mgr.reconfigureUpstream({ ...base, synRatePerSec: 100 })).toBe('restarted');
    expect(driver.released).toHaveLength(4);
    const B: Endpoint = { address: '10.0.0.3', port: 80 };
    expect(mgr.reconfigureUpstream({ ...base, target: B })).toBe('added');
  });
});
