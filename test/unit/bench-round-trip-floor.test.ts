import { describe, expect, it } from 'vitest';
import { CONTENDERS, parseBenchArgs } from '../../bench/harness/bench-args.js';
import { buildCell, type BenchCell } from '../../bench/harness/bench-result.js';
import { contendersFor, upstreamVariantFor } from '../../bench/harness/contender.js';
import { openConnectionsForRate } from '../../bench/harness/direct-open.js';
import { roundTripFloorLines } from '../../bench/harness/round-trip-floor.js';

const cell = (scenario: BenchCell['scenario'], contender: BenchCell['contender'], samplesMs: number[], connectionsOpened?: number): BenchCell =>
  buildCell({ rttMs: 40, scenario, contender, samplesMs, errors: 0, kind: contender.startsWith('accel') ? 'synpool' : 'direct', connectionsOpened });

describe('direct-open: one round trip with no proxy, the floor of the accelerated path', () => {
  it('is a contender, in the defaults, and names its scope in --help', () => {
    expect(CONTENDERS).toContain('direct-open');
    expect(parseBenchArgs([]).contenders).toContain('direct-open');
    expect(parseBenchArgs(['--contenders', 'direct-open,accel']).contenders).toEqual(['direct-open', 'accel']);
  });

  it('runs where one plain IPv4 server can keep its connections, not in the https, IPv6 or three-server scenarios', () => {
    for (const s of ['sequential-idle', 'connection-close', 'poisson', 'poisson-close', 'burst'] as const) expect(contendersFor(s, ['direct', 'direct-open'])).toEqual(['direct', 'direct-open']);
    for (const s of ['https-close', 'ipv6-close', 'https6-close', 'three-servers'] as const) expect(contendersFor(s, ['direct', 'direct-open', 'keepalive'])).toEqual(['direct']);
  });

  it('talks to a server that keeps connections, never a closing one or one that forgets them after 1 s', () => {
    for (const s of ['poisson-close', 'connection-close', 'poisson', 'burst', 'sequential-idle'] as const) expect(upstreamVariantFor(s, 'direct-open')).toBe('warm');
    expect(upstreamVariantFor('burst', 'direct')).toBe('idle');
    expect(upstreamVariantFor('poisson-close', 'direct')).toBe('close');
  });

  it('keeps enough connections for a Poisson stream, bounded', () => {
    expect(openConnectionsForRate(0.1)).toBe(2);
    expect(openConnectionsForRate(10)).toBe(10);
    expect(openConnectionsForRate(5000)).toBe(16);
  });
});

describe('round-trip floor lines', () => {
  const rtt = 41;
  const samples = (base: number): number[] => Array.from({ length: 100 }, (_, i) => base + i / 10);

  it('poisson-close: both floors and accel against RTT + 5 at p99, and accel over each floor', () => {
    // direct: 80.0…89.9 → less one RTT p50 RTT + 2.9, p99 RTT + 7.8; direct-open 42.0…51.9 → p50 46.9, p99 51.8; accel 43.0…52.9.
    const lines = roundTripFloorLines(
      [cell('poisson-close', 'direct', samples(80)), cell('poisson-close', 'direct-open', samples(42), 0), cell('poisson-close', 'accel', samples(43)), cell('poisson-close', 'nginx', samples(81))],
      { measuredRttMs: rtt, poolSize: 'demand', burstSize: 32 },
    );
    expect(lines).toEqual([
      'poisson-close (target p99 ≤ RTT + 5 = 46.0 ms):',
      '  floor, no proxy over open connections (direct-open, 0 handshake(s) paid): p50 RTT + 5.9, p99 RTT + 10.8 ms: p99 MISSED',
      '  floor, no proxy with a new connection, less its round trip (direct − RTT): p50 RTT + 2.9, p99 RTT + 7.8 ms: p99 MISSED',
      '  accel: p50 RTT + 6.9, p99 RTT + 11.8 ms: p99 MISSED (over direct-open + 1.0 / + 1.0, over direct − RTT + 4.0 / + 4.0)',
    ]);
  });

  it('judges within the target when it is, and shows a contender under a floor with a minus sign', () => {
    const lines = roundTripFloorLines([cell('poisson-close', 'direct', [82, 88]), cell('poisson-close', 'accel', [42, 45.9])], { measuredRttMs: rtt, poolSize: 8, burstSize: 32 });
    expect(lines[1]).toBe('  floor, no proxy with a new connection, less its round trip (direct − RTT): p50 RTT + 0.0, p99 RTT + 6.0 ms: p99 MISSED');
    expect(lines[2]).toBe('  accel: p50 RTT + 1.0, p99 RTT + 4.9 ms: p99 within the target (over direct − RTT + 1.0 / − 1.1)');
  });

  it('burst: a target only when the pool holds the whole burst', () => {
    const cells = [cell('burst', 'direct-open', [45, 46]), cell('burst', 'accel', [60, 61])];
    expect(roundTripFloorLines(cells, { measuredRttMs: rtt, poolSize: 32, burstSize: 32 })[0]).toBe('burst (target p50 ≤ RTT + 5 = 46.0 ms):');
    const small = roundTripFloorLines(cells, { measuredRttMs: rtt, poolSize: 8, burstSize: 32 });
    expect(small[0]).toBe('burst:');
    expect(small[2]).toBe('  accel: p50 RTT + 19.0, p99 RTT + 20.0 ms (over direct-open + 15.0 / + 15.0)');
  });

  it('nothing without a floor or without an accelerated contender', () => {
    expect(roundTripFloorLines([cell('poisson-close', 'accel', [42])], { measuredRttMs: rtt, poolSize: 8, burstSize: 32 })).toEqual([]);
    expect(roundTripFloorLines([cell('poisson-close', 'direct', [82])], { measuredRttMs: rtt, poolSize: 8, burstSize: 32 })).toEqual([]);
  });
});
