// HeldStock's bookkeeping with an injected clock.
import { describe, expect, it } from 'vitest';
import { HeldStock, HOLD_MARGIN_MS, type Held } from '../../src/keeper/held-stock.js';

const a = { address: '10.0.0.2', port: 80 };
const b = { address: '10.0.0.3', port: 80 };

function stock() {
  let now = 1_000;
  const discarded: string[] = [];
  const s = new HeldStock<string>(
    () => now,
    (h: Held<string>) => discarded.push(h.descriptor),
  );
  return { s, discarded, advance: (ms: number) => (now += ms) };
}

describe('HeldStock', () => {
  it('takes the usable connection with the least time left, per address', () => {
    const { s } = stock();
    s.add('long', 1, a, 5_000);
    s.add('short', 2, a, 1_000);
    s.add('other', 3, b, 100);
    expect(s.count(a)).toBe(2);
    expect(s.size).toBe(3);
    expect(s.take(a)?.descriptor).toBe('short');
    expect(s.take(a)?.descriptor).toBe('long');
    expect(s.take(a)).toBeUndefined();
    expect(s.take(b)?.descriptor).toBe('other');
    expect(s.size).toBe(0);
  });

  it('never hands out one past its time (less the margin): take and expire discard it', () => {
    const { s, discarded, advance } = stock();
    s.add('x', 1, a, 100);
    s.add('y', 2, a, 300);
    advance(100 - HOLD_MARGIN_MS); // x's last usable instant has passed
    expect(s.take(a)?.descriptor).toBe('y');
    expect(discarded).toEqual(['x']);
    s.add('z', 3, b, 200);
    expect(s.expire()).toBe(1_000 + 100 - HOLD_MARGIN_MS + 200 - HOLD_MARGIN_MS);
    advance(200);
    expect(s.expire()).toBe(Infinity);
    expect(discarded).toEqual(['x', 'z']);
    expect(s.size).toBe(0);
  });

  it('one with no time left is discarded on arrival', () => {
    const { s, discarded } = stock();
    expect(s.add('late', 1, a, HOLD_MARGIN_MS)).toBe(false);
    expect(discarded).toEqual(['late']);
    expect(s.size).toBe(0);
  });

  it('clear() discards everything', () => {
    const { s, discarded } = stock();
    s.add('p', 1, a, 1_000);
    s.add('q', 2, b, 1_000);
    s.clear();
    expect(discarded.sort()).toEqual(['p', 'q']);
    expect(s.size).toBe(0);
    expect(s.take(a)).toBeUndefined();
  });
  it('discardTarget gives up every connection to one address and leaves the others', () => {
    const { s, discarded } = stock();
    s.add('a1', 1, a, 1_000);
    s.add('a2', 2, a, 2_000);
    s.add('b1', 3, b, 1_000);
    expect(s.targets()).toEqual([a, b]);
    expect(s.discardTarget(a)).toBe(2);
    expect(discarded.sort()).toEqual(['a1', 'a2']);
    expect(s.size).toBe(1);
    expect(s.count(a)).toBe(0);
    expect(s.targets()).toEqual([b]);
    expect(s.discardTarget(a)).toBe(0);
    expect(s.take(b)?.descriptor).toBe('b1');
  });
});
