import { describe, expect, it } from 'vitest';
import { diffConfig, RELOAD_EFFECT } from '../../src/config/config-diff.js';
import { CONFIG_SCHEMA, validateConfig } from '../../src/config/schema.js';

const base = { upstream: 'http://10.0.0.2:8080' };

describe('diffConfig (what a reload must do)', () => {
  it('names every changed key, in schema order, with its effect', () => {
    const a = validateConfig(base);
    const b = validateConfig({ ...base, logLevel: 'debug', listen: '0.0.0.0:8080', pool: { targetSize: 4, sizing: 'fixed' }, tls: { verify: false } });
    const d = diffConfig(a, b);
    // Each upstream's pool settings are the top-level ones with its overrides: they change too.
    expect(d.changed).toEqual(['listen', 'upstreams', 'logLevel', 'pool', 'tls']);
    expect([...d.effects].sort()).toEqual(['agent', 'log', 'pool', 'restart', 'upstream']);
    expect(d.restartNeeded).toEqual(['listen']);
  });

  it('equal configs (even built in another order) differ in nothing', () => {
    const a = validateConfig({ ...base, pool: { minSize: 2, ttlMs: 40_000 } });
    const b = validateConfig({ pool: { ttlMs: 40_000, minSize: 2 }, ...base });
    expect(diffConfig(a, b).changed).toEqual([]);
  });

  it('every config key says how it reloads', () => {
    expect(Object.keys(RELOAD_EFFECT).sort()).toEqual(Object.keys(CONFIG_SCHEMA).sort());
  });
});
