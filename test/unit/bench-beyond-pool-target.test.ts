import { describe, expect, it } from 'vitest';
import { CONTENDERS, parseBenchArgs } from '../../bench/harness/bench-args.js';
import { beyondPoolLines } from '../../bench/harness/beyond-pool-target.js';
import { buildCell, type BenchCell } from '../../bench/harness/bench-result.js';
import { contendersFor, upstreamVariantFor } from '../../bench/harness/contender.js';

const kindOf = (c: string): 'synpool' | 'nginx' | 'node' | 'direct' =>
  c.startsWith('accel') || c === 'no-accel' ? 'synpool' : c === 'nginx' ? 'nginx' : c === 'node-proxy' ? 'node' : 'direct';
const cell = (contender: BenchCell['contender'], samplesMs: number[], scenario: BenchCell['scenario'] = 'burst'): BenchCell =>
  buildCell({ rttMs: 40, scenario, contender, samplesMs, errors: 0, kind: kindOf(contender) });

describe('node-proxy: the minimal Node proxy as a harness contender', () => {
  it('is a contender and in the defaults, everywhere but three-servers', () => {
    expect(CONTENDERS).toContain('node-proxy');
    expect(parseBenchArgs([]).contenders).toContain('node-proxy');
    for (const s of ['sequential-idle', 'connection-close', 'poisson', 'poisson-close', 'burst', 'https-close', 'ipv6-close', 'https6-close'] as const)
      expect(contendersFor(s, ['direct', 'node-proxy'])).toEqual(['direct', 'node-proxy']);
    expect(contendersFor('three-servers', ['direct', 'node-proxy'])).toEqual(['direct']);
  });

  it('talks to the upstream the other proxies do: idle in a burst, keep-alive in poisson', () => {
    expect(upstreamVariantFor('burst', 'node-proxy')).toBe(upstreamVariantFor('burst', 'no-accel'));
    expect(upstreamVariantFor('poisson', 'node-proxy')).toBe(upstreamVariantFor('poisson', 'accel'));
    expect(upstreamVariantFor('https-close', 'node-proxy')).toBe('tls-close');
  });
});

describe('a burst larger than the pool against direct', () => {
  const ctx = { poolSize: 8, burstSize: 32 };

  it('judges every plain-connecting proxy and accel against direct at p50', () => {
    const lines = beyondPoolLines(
      [cell('direct', [90, 92, 94]), cell('node-proxy', [98, 100, 102]), cell('no-accel', [99, 101, 103]), cell('nginx', [89, 91, 93]), cell('accel', [95, 97, 99])],
      ctx,
    );
    expect(lines).toEqual([
      "burst of 32 beyond a pool of 8 (target p50 ≤ direct's 92.0 ms):",
      '  floor, the minimal Node proxy, plain connects (node-proxy): p50 100.0 ms, direct + 8.0: MISSED',
      '  synpool --no-accel, plain connects: p50 101.0 ms, direct + 9.0: MISSED',
      '  nginx, plain connects: p50 91.0 ms, direct − 1.0: within the target',
      '  accel: p50 97.0 ms, direct + 5.0: MISSED',
    ]);
  });

  it('nothing when the pool holds the burst, outside the burst, or without direct or accel', () => {
    const cells = [cell('direct', [90]), cell('accel', [60])];
    expect(beyondPoolLines(cells, { poolSize: 32, burstSize: 32 })).toEqual([]);
    expect(beyondPoolLines(cells, { poolSize: 'demand', burstSize: 32 })).toEqual([]);
    expect(beyondPoolLines([cell('direct', [90], 'poisson-close'), cell('accel', [60], 'poisson-close')], ctx)).toEqual([]);
    expect(beyondPoolLines([cell('accel', [60])], ctx)).toEqual([]);
    expect(beyondPoolLines([cell('direct', [90])], ctx)).toEqual([]);
    expect(beyondPoolLines(cells, ctx)[1]).toBe('  accel: p50 60.0 ms, direct − 30.0: within the target');
  });
});
