import { describe, expect, it } from 'vitest';
import { originOf } from '../../src/config/load-config.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { OriginBalancer } from '../../src/proxy/origin-balancer.js';

const a: Endpoint = { address: '10.0.0.2', port: 80 };
const b: Endpoint = { address: '10.0.0.3', port: 80 };
const c: Endpoint = { address: 'fd00::2', port: 80 };
const [A, B, C] = [a, b, c].map((e) => originOf('http:', e)) as [string, string, string];
const originOfHttp = (e: Endpoint) => originOf('http:', e);

describe('OriginBalancer', () => {
  it('rotates over every origin when none has an idle connection (IPv6 in brackets)', () => {
    const balancer = new OriginBalancer([a, b, c], { originOf: originOfHttp });
    expect(C).toBe('http://[fd00::2]:80');
    const picks = Array.from({ length: 9 }, () => balancer.next());
    expect(picks).toEqual([A, B, C, A, B, C, A, B, C]);
  });

  it('reuses an idle keep-alive connection first, wherever the cursor is', () => {
    const idle = new Map([[C, 1]]);
    const balancer = new OriginBalancer([a, b, c], { originOf: originOfHttp, idle: (o) => idle.get(o) ?? 0 });
    expect([balancer.next(), balancer.next(), balancer.next()]).toEqual([C, C, C]);
    idle.clear();
    // The cursor moved on with every pick: the rotation goes on from there.
    expect(balancer.next()).toBe(A);
  });

  it('passes over an unreachable address while another is usable, and rotates over all when none is', () => {
    const down = new Set<Endpoint>([b]);
    const balancer = new OriginBalancer([a, b, c], { originOf: originOfHttp, usable: (e) => !down.has(e) });
    const picks = Array.from({ length: 6 }, () => balancer.next());
    expect(picks).not.toContain(B);
    expect(new Set(picks)).toEqual(new Set([A, C]));
    // An idle connection to an unreachable address is not preferred either.
    const idleOnB = new OriginBalancer([a, b], { originOf: originOfHttp, usable: (e) => !down.has(e), idle: (o) => (o === B ? 1 : 0) });
    expect([idleOnB.next(), idleOnB.next()]).toEqual([A, A]);
    down.add(a).add(c);
    expect(Array.from({ length: 3 }, () => balancer.next()).sort()).toEqual([A, B, C].sort());
  });

  it('set() replaces the addresses (each once); an empty set is refused', () => {
    const balancer = new OriginBalancer([a, b], { originOf: originOfHttp });
    balancer.next();
    balancer.set([c, { ...c }]);
    expect(balancer.origins).toEqual([C]);
    expect([balancer.next(), balancer.next()]).toEqual([C, C]);
    balancer.set([]);
    expect(balancer.origins).toEqual([C]);
    expect(() => new OriginBalancer([], { originOf: originOfHttp })).toThrow(RangeError);
  });
});
