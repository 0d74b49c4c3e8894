import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../src/config/defaults.js';
import { loadConfig, readConfigFile } from '../../src/config/load-config.js';
import { POOL_DEFAULTS } from '../../src/pool/pool-config.js';
import { HEALTH_DEFAULTS } from '../../src/config/health-settings.js';

const path = (name: string): string => fileURLToPath(new URL(`../../config/${name}`, import.meta.url));

describe('config files shipped in config/', () => {
  it('default.yaml lists exactly the defaults', () => {
    const { upstream: _u, ...defaults } = DEFAULTS;
    expect(readConfigFile(path('default.yaml'))).toEqual({ ...defaults, pool: POOL_DEFAULTS, health: HEALTH_DEFAULTS });
  });

  it.each(['synpool.example.yaml', 'synpool.example.json'])('%s is valid', (name) => {
    expect(loadConfig({ file: path(name) }).upstream).toBe('http://10.0.0.2:8080');
  });

  it('synpool.upstreams.example.yaml is valid: two upstreams, three routes', () => {
    const c = loadConfig({ file: path('synpool.upstreams.example.yaml') });
    expect(Object.keys(c.upstreams)).toEqual(['app', 'static']);
    expect(c.upstreams.app).toMatchObject({ balance: 'least-requests', pool: { sizing: 'fixed', targetSize: 8 }, health: { maxFails: 3, ejectMs: 5000, maxEjectMs: 60_000, ejectJitter: 0.1 } });
    expect(c.upstreams.static!.health).toEqual({ maxFails: 5, ejectMs: 10_000, maxEjectMs: 300_000, ejectJitter: 0.1 });
    expect(c.routes.map((r) => r.upstream)).toEqual(['app', 'static', 'static']);
  });
});
