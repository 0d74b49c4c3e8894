import { describe, expect, it } from 'vitest';
import { backlogShare, POOL_DEFAULTS, resolvePoolConfig, resolvePoolConfigs, resolvePoolSettings } from '../../src/pool/pool-config.js';
import { configError } from '../helpers/config-error.js';

const target = { address: '10.0.0.2', port: 80 };

describe('pool config', () => {
  it('fills defaults, derives the cap from the backlog and freezes the result', () => {
    const c = resolvePoolConfig({ target });
    expect(c.ttlMs).toBe(50_000);
    expect(c.maxSize).toBe(64);
    expect(c.cap).toBe(64); // min(64, floor(511 / 4) = 127)
    expect(c.key).toBe('10.0.0.2:80');
    expect(Object.isFrozen(c)).toBe(true);
    expect(resolvePoolConfig({ target, upstreamBacklog: 5, minSize: 1 }).cap).toBe(1);
    expect(resolvePoolConfig({ target, upstreamBacklog: 128 }).cap).toBe(32);
    expect(POOL_DEFAULTS.synRatePerSec).toBe(200);
  });

  it('names the field, the value and what is allowed', () => {
    const e = configError(() => resolvePoolConfigs([{ target }, { target: { address: '10.0.0.3', port: 80 }, ttlMs: 70_000 }]));
    expect(e.field).toBe('upstreams[1].ttlMs');
    expect(e.message).toContain('70000');
    expect(e.message).toContain('1000..60000');
    expect(configError(() => resolvePoolConfig({ target, synRatePerSec: 0 })).message).toMatch(/synRatePerSec.*\(0, 100000\].*got 0/);
    expect(configError(() => resolvePoolConfig({ target, sizing: 'auto' as never })).message).toContain("'demand', 'fixed'");
  });

  it('rejects unknown fields, bad targets, duplicates and inconsistent pairs', () => {
    expect(configError(() => resolvePoolConfig({ target, ttl: 5 } as never)).field).toBe('upstream.ttl');
    expect(configError(() => resolvePoolConfig({ target: { address: 'example.com', port: 80 } })).field).toBe('upstream.target');
    expect(configError(() => resolvePoolConfig({ target: { address: '10.0.0.1', port: 0 } })).field).toBe('upstream.target');
    expect(configError(() => resolvePoolConfigs([{ target }, { target: { ...target } }])).message).toContain('upstreams[0]');
    expect(configError(() => resolvePoolConfig({ target, minSize: 9, maxSize: 8 })).field).toBe('upstream.minSize');
    expect(configError(() => resolvePoolConfig({ target, minSize: 2, upstreamBacklog: 5 })).message).toContain('cap 1');
    expect(configError(() => resolvePoolConfig({ target, refreshLeadMs: 10_000, ttlMs: 10_000 })).field).toBe(
      'upstream.refreshLeadMs',
    );
    expect(configError(() => resolvePoolConfig({ target, backoffBaseMs: 10, backoffMaxMs: 5 })).field).toBe(
      'upstream.backoffBaseMs',
    );
  });

  describe('fleetSize: replicas in front of one upstream share its backlog', () => {
    it('defaults to 1 (the cap is unchanged)', () => {
      expect(POOL_DEFAULTS.fleetSize).toBe(1);
      expect(resolvePoolConfig({ target }).fleetSize).toBe(1);
      expect(resolvePoolConfig({ target, maxSize: 4096 }).cap).toBe(127); // floor(511 / 1 / 4)
    });

    it('each replica takes floor(upstreamBacklog / fleetSize / 4), then maxSize', () => {
      expect(resolvePoolConfig({ target, fleetSize: 4 }).cap).toBe(31); // min(64, floor(511 / 4 / 4) = 31)
      expect(resolvePoolConfig({ target, fleetSize: 2 }).cap).toBe(63); // floor(511 / 8) = 63 < 64
      expect(resolvePoolConfig({ target, fleetSize: 2, maxSize: 10 }).cap).toBe(10);
      expect(resolvePoolConfig({ target, upstreamBacklog: 4096, fleetSize: 16 }).cap).toBe(64);
      expect(resolvePoolConfig({ target, upstreamBacklog: 4096, fleetSize: 32 }).cap).toBe(32);
      // 8 replicas × 15 entries = 120 ≤ 511 / 4: the fleet as a whole stays within the quarter.
      expect(resolvePoolConfig({ target, fleetSize: 8 }).cap).toBe(15);
      // A fleet larger than a quarter of the backlog leaves a replica nothing: minSize 0 is the only fit.
      expect(resolvePoolConfig({ target, upstreamBacklog: 8, fleetSize: 3, minSize: 0 }).cap).toBe(0);
      expect(backlogShare({ upstreamBacklog: 511, fleetSize: 4 })).toBe(31);
      expect(backlogShare({ upstreamBacklog: 16, fleetSize: 4 })).toBe(1);
      expect(backlogShare({ upstreamBacklog: 15, fleetSize: 4 })).toBe(0);
    });

    it('a fleet budget never exceeds a quarter of the backlog (every backlog 1..2048 × fleet 1..64)', () => {
      const wrong: string[] = [];
      for (let backlog = 1; backlog <= 2048; backlog++) {
        for (let fleet = 1; fleet <= 64; fleet++) {
          const share = backlogShare({ upstreamBacklog: backlog, fleetSize: fleet });
          // within the quarter, and the largest share that is
          if (share * fleet * 4 > backlog || (share + 1) * fleet * 4 <= backlog) wrong.push(`${backlog}/${fleet} → ${share}`);
        }
      }
      expect(wrong).toEqual([]);
    });

    it('minSize above the share: the message names every field and number of the formula', () => {
      const e = configError(() => resolvePoolSettings({ minSize: 40, fleetSize: 4 }));
      expect(e.field).toBe('pool.minSize');
      expect(e.message).toContain('40 exceeds the cap 31 = min(maxSize 64, floor(upstreamBacklog 511 / fleetSize 4 / 4))');
      expect(e.message).toContain('the fleet shares it');
      expect(configError(() => resolvePoolConfig({ target, minSize: 2, upstreamBacklog: 5 })).message).toContain(
        '2 exceeds the cap 1 = min(maxSize 64, floor(upstreamBacklog 5 / fleetSize 1 / 4))',
      );
    });

    it('is an integer ≥ 1, named on error', () => {
      for (const bad of [0, -1, 1.5, '4', 10_001]) {
        const e = configError(() => resolvePoolSettings({ fleetSize: bad as never }));
        expect(e.field).toBe('pool.fleetSize');
        expect(e.message).toContain('an integer in 1..10000 replicas sharing the upstream');
      }
    });
  });
});
