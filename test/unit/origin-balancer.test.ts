import { describe, expect, it } from 'vitest';
import { OriginBalancer } from '../../src/proxy/origin-balancer.js';

const A = 'http://10.0.0.2:80';
const B = 'http://10.0.0.3:80';
const C = 'http://[fd00::2]:80';

describe('OriginBalancer', () => {
  it('rotates over every origin when none has an idle connection', () => {
    const b = new OriginBalancer([A, B, C]);
    const picks = Array.from({ length: 9 }, () => b.next());
    expect(picks).toEqual([A, B, C, A, B, C, A, B, C]);
  });

  it('reuses an idle keep-alive connection first, wherever the cursor is', () => {
    const idle = new Map([[C, 1]]);
    const b = new OriginBalancer([A, B, C], (o) => idle.get(o) ?? 0);
    expect([b.next(), b.next(), b.next()]).toEqual([C, C, C]);
    idle.clear();
    // The cursor moved on with every pick: the rotation goes on from there.
    expect(b.next()).toBe(A);
  });

  it('set() replaces the origins; an empty set is refused', () => {
    const b = new OriginBalancer([A, B]);
    b.next();
    b.set([C]);
    expect([b.next(), b.next()]).toEqual([C, C]);
    b.set([]);
    expect(b.origins).toEqual([C]);
    expect(() => new OriginBalancer([])).toThrow(RangeError);
  });
});
