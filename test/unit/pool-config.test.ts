import { describe, expect, it } from 'vitest';
import { POOL_DEFAULTS, resolvePoolConfig, resolvePoolConfigs } from '../../src/pool/pool-config.js';
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
});
