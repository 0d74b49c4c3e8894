// A fixed pool size above the pool's cap is refused at the config edge instead
// of being clamped without a word.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { validateConfig } from '../../src/config/schema.js';
import { ConfigError } from '../../src/errors.js';

const UP = { upstream: 'http://10.0.0.2:8080' };

function rejection(pool: Record<string, unknown>): ConfigError {
  try {
    validateConfig({ ...UP, pool });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected pool ${JSON.stringify(pool)} to be rejected`);
}

describe('config: pool.targetSize against the pool cap', () => {
  it('above maxSize: names the field, the value, maxSize and how far maxSize can go', () => {
    const err = rejection({ sizing: 'fixed', targetSize: 1000 });
    expect(err.field).toBe('pool.targetSize');
    expect(err.message).toBe(
      'config pool.targetSize: 1000 > pool.maxSize 64: raise pool.maxSize (at most 127, a quarter of pool.upstreamBacklog 511) or lower --pool-size / pool.targetSize',
    );
  });

  it('above a quarter of the upstream backlog: names the backlog', () => {
    const err = rejection({ sizing: 'fixed', targetSize: 8, upstreamBacklog: 5 });
    expect(err.field).toBe('pool.targetSize');
    expect(err.message).toContain('8 > 1, a quarter of pool.upstreamBacklog 5');
  });

  it('with pool.fleetSize, the bound is the replica\'s share and the message names the fleet', () => {
    const err = rejection({ sizing: 'fixed', targetSize: 40, fleetSize: 4 });
    expect(err.field).toBe('pool.targetSize');
    expect(err.message).toBe(
      'config pool.targetSize: 40 > 31, a quarter of pool.upstreamBacklog 511 shared by pool.fleetSize 4 (a pool stays well below what the upstream can queue): ' +
        "set pool.upstreamBacklog to the upstream's real listen backlog if it is larger, or lower --pool-size / pool.targetSize",
    );
    expect(rejection({ sizing: 'fixed', targetSize: 20, maxSize: 16, fleetSize: 4 }).message).toContain(
      'raise pool.maxSize (at most 31, a quarter of pool.upstreamBacklog 511 shared by pool.fleetSize 4)',
    );
    expect(validateConfig({ ...UP, pool: { sizing: 'fixed', targetSize: 31, fleetSize: 4 } }).pool).toMatchObject({ targetSize: 31, fleetSize: 4 });
  });

  it('pool.fleetSize per upstream: an override on top of the top-level pool, checked against that upstream\'s share', () => {
    const c = validateConfig({
      pool: { fleetSize: 4 },
      upstreams: { app: { servers: ['http://10.0.0.2:8080'], pool: { fleetSize: 8 } }, other: { servers: ['http://10.0.0.3:8080'] } },
      routes: [{ host: 'app.example', upstream: 'app' }, { upstream: 'other' }],
    });
    expect(c.upstreams.app!.pool.fleetSize).toBe(8);
    expect(c.upstreams.other!.pool.fleetSize).toBe(4);
    const err = (() => {
      try {
        validateConfig({ upstreams: { app: { servers: ['http://10.0.0.2:8080'], pool: { sizing: 'fixed', targetSize: 20, fleetSize: 8 } } } });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a rejection');
    })();
    expect(err.field).toBe('upstreams.app.pool.targetSize');
    expect(err.message).toContain('20 > 15, a quarter of upstreams.app.pool.upstreamBacklog 511 shared by upstreams.app.pool.fleetSize 8');
  });

  it('at the cap is accepted; demand sizing ignores targetSize', () => {
    expect(validateConfig({ ...UP, pool: { sizing: 'fixed', targetSize: 64 } }).pool.targetSize).toBe(64);
    expect(validateConfig({ ...UP, pool: { sizing: 'fixed', targetSize: 100, maxSize: 127 } }).pool.targetSize).toBe(100);
    expect(validateConfig({ ...UP, pool: { sizing: 'demand', targetSize: 8, upstreamBacklog: 5 } }).pool.targetSize).toBe(8);
  });

  it('--pool-size 1000 → exit 2 with one line naming the field, the value and the bound', async () => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let err = '';
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    expect(await main(['--upstream', 'http://10.0.0.2', '--pool-size', '1000', '--no-accel'], { stdout, stderr })).toBe(2);
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toMatch(/^synpool: config pool\.targetSize: 1000 > pool\.maxSize 64: .*at most 127.*--pool-size/);
  });
});
