import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { HalfOpen } from '../../src/handshake/half-open.js';
import { FakeClock } from '../../src/pool/clock.js';
import { FakeHandshakeDriver } from '../helpers/fake-handshake-driver.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import { PoolManager } from '../../src/pool/pool-manager.js';

const A: Endpoint = { address: '10.0.0.2', port: 80 };
const B: Endpoint = { address: '10.0.0.3', port: 81 };
const STRANGER: Endpoint = { address: '192.0.2.9', port: 80 };
const TARGETS = [A, B, STRANGER] as const;
const key = (e: Endpoint): string => `${e.address}:${e.port}`;

type Cmd =
  | { kind: 'advance'; ms: number }
  | { kind: 'take'; who: 0 | 1 | 2 }
  | { kind: 'acquire'; who: 0 | 1 | 2 }
  | { kind: 'synack'; pick: number; rttMs: number }
  | { kind: 'retransmit'; pick: number }
  | { kind: 'synackAll' }
  | { kind: 'retransmitAll' }
  | { kind: 'reset'; pick: number }
  | { kind: 'reportDead'; pick: number }
  | { kind: 'openThrows'; on: boolean }
  | { kind: 'handoffThrows'; on: boolean };

const who = fc.constantFrom<0 | 1 | 2>(0, 1, 2);
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1_500 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30_000 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('take' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('acquire' as const), who }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('synack' as const), pick: fc.nat(), rttMs: fc.integer({ min: 0, max: 500 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('retransmit' as const), pick: fc.nat() }) },
  // A healthy server: answers every SYN, keeps every entry alive with retransmits.
  { weight: 4, arbitrary: fc.constant({ kind: 'synackAll' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'retransmitAll' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reportDead' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('openThrows' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('handoffThrows' as const), on: fc.boolean() }) },
);

const poolConfig = fc.record({
  sizing: fc.constantFrom('demand' as const, 'fixed' as const),
  targetSize: fc.integer({ min: 0, max: 40 }),
  minSize: fc.integer({ min: 0, max: 3 }),
  maxSize: fc.integer({ min: 3, max: 30 }),
  upstreamBacklog: fc.integer({ min: 12, max: 600 }),
  fleetSize: fc.integer({ min: 1, max: 4 }),
  ttlMs: fc.oneof(fc.integer({ min: 3_000, max: 8_000 }), fc.integer({ min: 3_000, max: 60_000 })),
  synRatePerSec: fc.double({ min: 0.5, max: 50, noNaN: true }),
  synBurst: fc.integer({ min: 1, max: 12 }),
  maxOpensPerTick: fc.integer({ min: 1, max: 8 }),
  synAckTimeoutMs: fc.oneof(fc.integer({ min: 1_000, max: 5_000 }), fc.integer({ min: 50, max: 5_000 })),
  unreachableAfterFailures: fc.integer({ min: 1, max: 6 }),
  ttlFloorMs: fc.constant(1_000),
  refreshLeadMs: fc.integer({ min: 0, max: 2_999 }),
  // 0 turns the overdue-retransmit check off, so entries live until their TTL.
  expectedSynAckRetries: fc.constantFrom(0, 5),
  maxSynAckRetransmits: fc.integer({ min: 0, max: 6 }),
  // A replica's share of the backlog must leave room for minSize (else the config is refused).
}).filter((c) => c.minSize <= Math.floor(c.upstreamBacklog / c.fleetSize / 4));

describe('pool properties', () => {
  it('stays within its cap, paces SYNs, never hands out an expired entry, and leaks nothing', () => {
    fc.assert(
      fc.property(poolConfig, poolConfig, fc.array(cmd, { minLength: 20, maxLength: 150, size: 'max' }), fc.integer(), (ca, cb, cmds, seed) => {
        const clock = new FakeClock(0);
        const driver = new FakeHandshakeDriver(clock);
        let r = seed >>> 0;
        const random = (): number => ((r = (Math.imul(r, 1_664_525) + 1_013_904_223) >>> 0) / 2 ** 32);
        const upstreams: UpstreamPoolConfig[] = [
          { target: A, ...ca },
          { target: B, ...cb },
        ];
        const mgr = new PoolManager({ driver, clock, random, upstreams });
        const configs = mgr.upstreams;
        // A hit that claims the full window never saw more SYN-ACKs than its bound allows.
        mgr.on('hit', (e) => {
          const c = configs.find((x) => x.key === e.upstream)!;
          if (e.fullWindow) expect(e.synAcks).toBeLessThanOrEqual(c.maxSynAckRetransmits + 1);
        });
        const handedOut = new Set<HalfOpen>();
        const taken: HalfOpen[] = [];
        mgr.start();

        const pickOf = <T>(xs: T[], n: number): T | undefined => (xs.length === 0 ? undefined : xs[n % xs.length]);
        const checkTaken = (e: HalfOpen | undefined, ttlBefore: number): void => {
          if (e === undefined) return;
          expect(clock.now() - e.sentAt).toBeLessThan(ttlBefore);
          expect(e.state === 'established' || e.state === 'handed-off').toBe(true);
          handedOut.add(e);
          taken.push(e);
        };
        const invariants = (): void => {
          for (const [i, s] of mgr.snapshot().entries()) {
            const c = configs[i]!;
            expect(s.ready + s.pending).toBeLessThanOrEqual(c.cap);
            expect(c.cap).toBeLessThanOrEqual(c.maxSize);
            expect(c.cap * c.fleetSize * 4).toBeLessThanOrEqual(c.upstreamBacklog); // the fleet stays within a quarter
            expect(s.targetReady).toBeLessThanOrEqual(c.cap);
            const live = driver.live().filter((e) => !handedOut.has(e) && key(e.target) === s.upstream);
            expect(live.length).toBe(s.ready + s.pending);
          }
        };

        for (const c of cmds) {
          switch (c.kind) {
            case 'advance':
              clock.advance(c.ms);
              break;
            case 'take':
            case 'acquire': {
              const t = TARGETS[c.who];
              const ttl = mgr.snapshot().find((s) => s.upstream === key(t))?.effectiveTtlMs ?? Infinity;
              const before = driver.handedOff.length;
              if (c.kind === 'take') checkTaken(mgr.take(t), ttl);
              else if (mgr.acquire(t) !== undefined) checkTaken(driver.handedOff[before], ttl);
              break;
            }
            case 'synack': {
              const e = pickOf(driver.opened.filter((x) => x.state === 'syn-sent'), c.pick);
              if (e !== undefined) driver.synAck(e, c.rttMs);
              break;
            }
            case 'retransmit': {
              const e = pickOf(driver.opened.filter((x) => x.state === 'established'), c.pick);
              if (e !== undefined) driver.retransmit(e);
              break;
            }
            case 'synackAll':
              for (const e of driver.opened.filter((x) => x.state === 'syn-sent')) driver.synAck(e, 10);
              break;
            case 'retransmitAll':
              for (const e of driver.opened.filter((x) => x.state === 'established' && !handedOut.has(x))) driver.retransmit(e);
              break;
            case 'reset': {
              const e = pickOf(driver.live(), c.pick);
              if (e !== undefined) driver.reset(e);
              break;
            }
            case 'reportDead': {
              const e = pickOf(taken, c.pick);
              if (e !== undefined) mgr.reportDead(e);
              break;
            }
            case 'openThrows':
              driver.openError = c.on ? new SyscallError('socket', 24, 'EMFILE') : undefined;
              break;
            case 'handoffThrows':
              driver.handoffError = c.on ? new SyscallError('setsockopt(TCP_REPAIR)', 1, 'EPERM') : undefined;
              break;
          }
          invariants();
        }

        // Only configured upstreams ever got a SYN; per upstream the SYN rate obeys its bucket over every window.
        for (const cfg of configs) {
          const times = driver.openCalls.filter((o) => key(o.target) === cfg.key).map((o) => o.at);
          for (let i = 0; i < times.length; i++) {
            for (let j = i; j < times.length; j++) {
              const allowed = cfg.synBurst + (cfg.synRatePerSec * (times[j]! - times[i]!)) / 1000;
              expect(j - i + 1).toBeLessThanOrEqual(allowed + 1e-6);
            }
          }
        }
        expect(driver.openCalls.every((o) => key(o.target) !== key(STRANGER))).toBe(true);

        mgr.close();
        // Every opened entry was handed out or released.
        for (const e of driver.opened) expect(handedOut.has(e) || e.state === 'released').toBe(true);
        const opens = driver.openCalls.length;
        clock.advance(120_000);
        expect(driver.openCalls.length).toBe(opens);
      }),
      { numRuns: 300 },
    );
  });
});
