import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { POOL_DEFAULTS, resolvePoolSettings } from '../../src/pool/pool-config.js';
import { addressShare, splitPoolSettings } from '../../src/pool/pool-split.js';

/** What every address of an upstream gets: one entry per address, servers[i] = addresses of server i. */
function shares(total: number, servers: readonly number[]): number[] {
  return servers.flatMap((addresses) => Array.from({ length: addresses }, () => addressShare(total, servers.length, addresses)));
}

describe('splitting an upstream pool budget over its server addresses', () => {
  it('three servers with targetSize 30 keep 10 each, 30 in all (not 90)', () => {
    expect(shares(30, [1, 1, 1])).toEqual([10, 10, 10]);
    expect(splitPoolSettings({ ...POOL_DEFAULTS, sizing: 'fixed', targetSize: 30 }, 3, 1)).toMatchObject({ targetSize: 10, minSize: 1, maxSize: 22 });
  });

  it('by share of demand: a server with two addresses gives each half of its share', () => {
    // Two servers, one a name with two addresses: 12 → 6 for the single one, 3 + 3 for the other.
    expect(shares(12, [1, 2])).toEqual([6, 3, 3]);
  });

  it('one server, one address: the settings unchanged; zero stays zero', () => {
    expect(splitPoolSettings(POOL_DEFAULTS, 1, 1)).toEqual(POOL_DEFAULTS);
    expect(addressShare(0, 3, 2)).toBe(0);
  });

  it('leaves upstreamBacklog (per server) and everything else alone; an unset size splits its default', () => {
    const out = splitPoolSettings({ upstreamBacklog: 100, synRatePerSec: 50, burstEntries: 2 }, 4, 1);
    expect(out).toEqual({ upstreamBacklog: 100, synRatePerSec: 50, burstEntries: 2, targetSize: 2, minSize: 1, maxSize: 16 });
  });

  it('rounds up: every address keeps at least 1 of a positive total, the sum exceeds it by less than the address count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4096 }), fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 16 }), (total, servers) => {
        const all = shares(total, servers);
        const sum = all.reduce((a, b) => a + b, 0);
        expect(sum).toBeGreaterThanOrEqual(total);
        // The rounding: less than one entry per address.
        expect(sum - total).toBeLessThan(all.length);
        if (total > 0) for (const s of all) expect(s).toBeGreaterThanOrEqual(1);
        else for (const s of all) expect(s).toBe(0);
      }),
    );
  });

  it('a valid budget splits into valid per-address settings (minSize ≤ maxSize, targetSize ≤ cap)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 128 }),
        fc.integer({ min: 0, max: 128 }),
        fc.integer({ min: 0, max: 128 }),
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 8 }),
        (a, b, c, servers, addresses) => {
          const [minSize, targetSize, maxSize] = [a, b, c].sort((x, y) => x - y) as [number, number, number];
          const budget = { sizing: 'fixed' as const, minSize, targetSize, maxSize };
          const share = splitPoolSettings(budget, servers, addresses);
          const resolved = resolvePoolSettings(share);
          expect(resolved.minSize).toBeLessThanOrEqual(resolved.maxSize);
          expect(resolved.targetSize).toBeLessThanOrEqual(resolved.cap);
        },
      ),
    );
  });
});
