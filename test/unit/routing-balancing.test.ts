import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/harness/poisson-schedule.js';
import { SynpoolError } from '../../src/errors.js';
import { BALANCING_POLICIES, createBalancingPolicy, type BalancingPolicyName } from '../../src/routing/balancing-policy.js';
import type { ServerState } from '../../src/routing/server-state.js';

const server = (key: string, over: Partial<ServerState> = {}): ServerState => ({ key, inFlight: 0, idle: 0, available: true, ...over });
const cold = (n: number): ServerState[] => Array.from({ length: n }, (_, i) => server(`s${i}`));

function counts(name: BalancingPolicyName, servers: readonly ServerState[], picks: number, seed = 1): Map<string, number> {
  const policy = createBalancingPolicy(name, { random: seededRandom(seed) });
  const seen = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const s = policy.pick(servers)!;
    seen.set(s.key, (seen.get(s.key) ?? 0) + 1);
  }
  return seen;
}

const serverList = fc.array(
  fc.record({ inFlight: fc.nat(20), idle: fc.nat(3), available: fc.boolean() }),
  { maxLength: 8 },
).map((list) => list.map((s, i) => ({ key: `s${i}`, ...s })));

describe.each(BALANCING_POLICIES)('%s', (name) => {
  it('property: never picks an unavailable server; undefined exactly when none is available', () => {
    fc.assert(
      fc.property(serverList, fc.integer(), (servers, seed) => {
        const policy = createBalancingPolicy(name, { random: seededRandom(seed) });
        for (let i = 0; i < 5; i++) {
          const s = policy.pick(servers);
          if (servers.some((x) => x.available)) expect(s?.available).toBe(true);
          else expect(s).toBeUndefined();
        }
      }),
    );
  });

  it('property: keep-alive first — a server with an idle connection is picked whenever an available one has one', () => {
    fc.assert(
      fc.property(serverList, fc.integer(), (servers, seed) => {
        const s = createBalancingPolicy(name, { random: seededRandom(seed) }).pick(servers);
        if (servers.some((x) => x.available && x.idle > 0)) expect(s!.idle).toBeGreaterThan(0);
      }),
    );
  });

  it('keepAliveFirst: false ignores idle connections', () => {
    const servers = [server('warm', { idle: 1 }), server('cold')];
    const policy = createBalancingPolicy(name, { random: seededRandom(3), keepAliveFirst: false });
    const keys = new Set(Array.from({ length: 50 }, () => policy.pick(servers)!.key));
    expect(keys).toEqual(new Set(['warm', 'cold']));
  });

  it('a server waiting for its probe is picked first, even against warm ones; once the probe is out (unavailable), not', () => {
    const warm = [server('w1', { idle: 3 }), server('w2', { idle: 1 })];
    const policy = createBalancingPolicy(name, { random: seededRandom(5) });
    expect(policy.pick([...warm, server('p', { probing: true })])?.key).toBe('p');
    expect(policy.pick([...warm, server('p', { probing: true, available: false })])?.key).not.toBe('p');
  });

  it('an empty list: undefined', () => {
    expect(createBalancingPolicy(name).pick([])).toBeUndefined();
  });

  // 400 picks per server: the random policies' binomial σ is at most 20, and 100 is 5σ (not flaky).
  it('property: equal servers share N picks evenly (each within 25 % of N/c for N = 400·c)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer(), (c, seed) => {
        const seen = counts(name, cold(c), 400 * c, seed);
        expect(seen.size).toBe(c);
        for (const n of seen.values()) expect(Math.abs(n - 400)).toBeLessThanOrEqual(100);
      }),
      { numRuns: 30 },
    );
  });
});

describe('round-robin', () => {
  it('takes each candidate in turn, skipping unavailable ones', () => {
    const servers = [server('a'), server('b', { available: false }), server('c'), server('d')];
    const policy = createBalancingPolicy('round-robin');
    expect(Array.from({ length: 6 }, () => policy.pick(servers)!.key)).toEqual(['a', 'c', 'd', 'a', 'c', 'd']);
  });

  it('among warm servers only while there are any', () => {
    const servers = [server('a'), server('b', { idle: 2 }), server('c', { idle: 1 })];
    const policy = createBalancingPolicy('round-robin');
    expect(Array.from({ length: 4 }, () => policy.pick(servers)!.key)).toEqual(['b', 'c', 'b', 'c']);
  });
});

describe('least-requests (power of two choices)', () => {
  it('property: never picks the one server with strictly the most requests in flight (two or more candidates)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 2, maxLength: 8 }), fc.integer(), (loads, seed) => {
        const servers = loads.map((inFlight, i) => server(`s${i}`, { inFlight }));
        const max = Math.max(...loads);
        const unique = loads.filter((l) => l === max).length === 1;
        const policy = createBalancingPolicy('least-requests', { random: seededRandom(seed) });
        for (let i = 0; i < 10; i++) {
          const s = policy.pick(servers)!;
          if (unique) expect(s.inFlight).toBeLessThan(max);
        }
      }),
    );
  });

  it('the least loaded of 4 wins about half the picks (1 − 3/4 · 2/3)', () => {
    const servers = [server('idle', { inFlight: 0 }), ...[1, 2, 3].map((i) => server(`busy${i}`, { inFlight: 10 }))];
    const n = 8_000;
    const share = (counts('least-requests', servers, n, 11).get('idle') ?? 0) / n;
    expect(share).toBeGreaterThan(0.46);
    expect(share).toBeLessThan(0.54);
  });

  it('a single candidate is picked without a comparison', () => {
    const servers = [server('a', { available: false }), server('b', { inFlight: 99 })];
    expect(createBalancingPolicy('least-requests').pick(servers)?.key).toBe('b');
  });
});

describe('random', () => {
  it('a source that returns 1 still picks a server', () => {
    expect(createBalancingPolicy('random', { random: () => 1 }).pick(cold(3))?.key).toBe('s2');
    expect(createBalancingPolicy('least-requests', { random: () => 1 }).pick(cold(3))).toBeDefined();
  });
});

it('an unknown policy name is a typed error', () => {
  expect(() => createBalancingPolicy('fastest' as BalancingPolicyName)).toThrow(SynpoolError);
});
