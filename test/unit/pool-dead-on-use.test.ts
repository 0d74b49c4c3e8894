// What a pooled connection's first use may teach the pool, and what it must
// not: only a reset before the server acknowledged any byte
// (PooledConnectionResetError) says the entry was forgotten. A reset after
// the request was acknowledged is the application's choice; a client that
// can trigger one at will must not be able to shorten the TTL, evict
// entries or cost SYNs.
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PooledConnectionResetError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { FakeClock } from '../../src/pool/clock.js';
import type { PoolSnapshot } from '../../src/pool/pool-events.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };
const answer = { mode: 'answer', rttMs: 5, retransmits: 5 } as const;

function setup(pool: Partial<UpstreamPoolConfig> = {}) {
  const clock = new FakeClock(1_000);
  const driver = new FakeHandshakeDriver(clock);
  driver.behaviour = answer;
  // The deaths here are of entries taken seconds to tens of seconds old; with the
  // default maxSynAckRetransmits (1) they would be replaced every ~3 s, so these
  // tests keep entries to their TTL (5, the behaviour before that setting).
  const mgr = new PoolManager({ driver, clock, random: () => 0.5, upstreams: [{ target: A, maxSynAckRetransmits: 5, ...pool }] });
  const snap = (): PoolSnapshot => mgr.snapshot()[0]!;
  return { clock, driver, mgr, snap };
}

/** Fails a socket the way the kernel would, and lets its 'error' event run. */
async function fail(socket: Socket, err: Error): Promise<void> {
  socket.destroy(err);
  await new Promise((resolve) => setImmediate(resolve));
}

const appReset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('deaths on use', () => {
  it('acquire() learns from its own socket: a reset before any byte was acknowledged reports the entry', async () => {
    const { clock, mgr, snap } = setup({ sizing: 'fixed', targetSize: 4 });
    mgr.start();
    clock.advance(3_000);
    const socket = mgr.acquire(A)!;
    expect(socket).toBeDefined();
    await fail(socket, new PooledConnectionResetError('10.0.0.2:80'));
    expect(snap()).toMatchObject({ deadOnUse: 1, learned: { earlyDeaths: 1 } });
    // The entries the server held with it are suspect: evicted, not handed out.
    expect(snap().evicted['sibling-dead']).toBe(3);
  });

  it('a reset after the request was acknowledged (15 in a row) changes nothing the pool learns', async () => {
    const { clock, mgr, snap } = setup(); // defaults: demand sizing
    mgr.start();
    clock.advance(3_000);
    const before = snap();
    for (let i = 0; i < 15; i++) {
      const socket = mgr.acquire(A);
      expect(socket, `request ${i}`).toBeDefined();
      await fail(socket!, appReset());
      clock.advance(1_000);
    }
    const after = snap();
    expect(after.hits - before.hits).toBe(15);
    expect(after).toMatchObject({ deadOnUse: 0, effectiveTtlMs: 50_000, learned: { earlyDeaths: 0 } });
    expect(after.evicted['sibling-dead']).toBe(0);
    // One refill per request taken, plus the growth of the demand target (3 at 1/s).
    expect(after.synsSent - before.synsSent).toBeLessThanOrEqual(15 + 2);
  });

  it('entries of one generation in flight together die as one observation (a restart under a burst)', () => {
    const { clock, mgr, snap } = setup({ sizing: 'fixed', targetSize: 6 });
    mgr.start();
    clock.advance(2_000);
    const burst = Array.from({ length: 6 }, () => mgr.take(A)!);
    clock.advance(40); // the server restarted: every one of them is reset on first use
    for (const e of burst) expect(mgr.reportDead(e)).toBe(true);
    expect(snap()).toMatchObject({ deadOnUse: 6, learned: { earlyDeaths: 1 }, effectiveTtlMs: 50_000 });
    // A second, later generation dying is a second observation: the TTL is learned from both.
    clock.advance(5_000);
    const next = mgr.take(A)!;
    expect(next.sentAt).toBeGreaterThan(burst[5]!.sentAt);
    mgr.reportDead(next);
    expect(snap().learned.earlyDeaths).toBe(2);
    expect(snap().effectiveTtlMs).toBe(2_000); // 0.8 × the 2 s of the first: the floor
  });

  it('property: reports teach at most once per entry handed out, and never for anything else', () => {
    type Step = { kind: 'take' } | { kind: 'advance'; ms: number } | { kind: 'report'; pick: number; forged: boolean };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.constant({ kind: 'take' as const }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 5_000 }) }),
      fc.record({ kind: fc.constant('report' as const), pick: fc.nat(), forged: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const { clock, driver, mgr, snap } = setup({ sizing: 'fixed', targetSize: 4 });
        mgr.start();
        clock.advance(100);
        const taken: number[] = [];
        const reported = new Set<number>();
        for (const s of steps) {
          if (s.kind === 'take') {
            const e = mgr.take(A);
            if (e !== undefined) taken.push(e.id);
          } else if (s.kind === 'advance') {
            clock.advance(s.ms);
          } else if (s.forged || taken.length === 0) {
            // An id the pool never handed out: a ready entry, or none at all.
            const ids = driver.live().map((e) => e.id).filter((id) => !taken.includes(id));
            const id = ids.length > 0 ? ids[s.pick % ids.length]! : 1_000_000 + s.pick;
            expect(mgr.reportDead({ id, target: A })).toBe(false);
          } else {
            const id = taken[s.pick % taken.length]!;
            expect(mgr.reportDead({ id, target: A })).toBe(!reported.has(id));
            reported.add(id);
          }
        }
        const s = snap();
        expect(s.deadOnUse).toBe(reported.size);
        // Only early deaths seen on the wire (none here: retransmits all arrive) or reported ones.
        expect(s.learned.earlyDeaths).toBeLessThanOrEqual(reported.size);
        mgr.close();
      }),
      { numRuns: 200 },
    );
  });
});
