// The `health` section: top level, per upstream over it, validated at the edge, reloadable.
import { describe, expect, it } from 'vitest';
import { diffConfig } from '../../src/config/config-diff.js';
import { HEALTH_DEFAULTS, passiveHealthSettings, resolveHealthSettings } from '../../src/config/health-settings.js';
import { validateConfig } from '../../src/config/schema.js';
import { PASSIVE_HEALTH_DEFAULTS } from '../../src/routing/passive-health.js';
import { configError } from '../helpers/config-error.js';

const A = 'http://10.0.0.2:8080';
const B = 'http://10.0.0.3:8080';
const C = 'http://10.0.0.4:8080';

describe('health settings', () => {
  it('defaults are the passive-health constants of before', () => {
    expect(passiveHealthSettings(HEALTH_DEFAULTS)).toEqual(PASSIVE_HEALTH_DEFAULTS);
    const c = validateConfig({ upstream: A });
    expect(c.health).toEqual({ maxFails: 5, ejectMs: 10_000, maxEjectMs: 300_000, ejectJitter: 0.1 });
    expect(c.upstreams.default!.health).toEqual(c.health);
  });

  it('top level, then each upstream over it key by key; layers merge key by key', () => {
    const c = validateConfig(
      { health: { maxFails: 3 } },
      {
        health: { ejectMs: 2_000 },
        upstreams: { app: { servers: [A, B], health: { maxEjectMs: 20_000 } }, other: { servers: [C] } },
        routes: [{ host: 'a.example', upstream: 'app' }, { upstream: 'other' }],
      },
    );
    expect(c.health).toEqual({ maxFails: 3, ejectMs: 2_000, maxEjectMs: 300_000, ejectJitter: 0.1 });
    expect(c.upstreams.app!.health).toEqual({ maxFails: 3, ejectMs: 2_000, maxEjectMs: 20_000, ejectJitter: 0.1 });
    expect(c.upstreams.other!.health).toEqual(c.health);
  });

  it.each([
    [{ health: { maxFails: 0 } }, 'health.maxFails'],
    [{ health: { maxFails: 2.5 } }, 'health.maxFails'],
    [{ health: { ejectMs: '10s' } }, 'health.ejectMs'],
    [{ health: { ejectJitter: 1 } }, 'health.ejectJitter'],
    [{ health: { ejectMs: 5_000, maxEjectMs: 1_000 } }, 'health.maxEjectMs'],
    [{ health: { failTimeout: 1 } }, 'health.failTimeout'],
    [{ health: 5 }, 'health'],
  ])('%j is refused naming %s', (layer, field) => {
    const err = configError(() => validateConfig({ upstream: A, ...layer }));
    expect(err.field).toBe(field);
    expect(err.code).toBe('SYNPOOL_ERR_CONFIG');
  });

  it('an upstream override names its field; an override must fit the top level (maxEjectMs ≥ ejectMs)', () => {
    const up = (health: unknown) => ({ upstreams: { app: { servers: [A], health } } });
    expect(configError(() => validateConfig(up({ maxFails: -1 }))).field).toBe('upstreams.app.health.maxFails');
    expect(configError(() => validateConfig(up([]))).field).toBe('upstreams.app.health');
    expect(configError(() => validateConfig({ health: { maxEjectMs: 20_000 } }, up({ ejectMs: 30_000 }))).field).toBe('upstreams.app.health.maxEjectMs');
    expect(resolveHealthSettings(undefined, 'x', { ...HEALTH_DEFAULTS, maxFails: 9 }).maxFails).toBe(9);
  });

  it('a change reloads through a new routing (the runtimes are kept: their key has no health in it)', () => {
    const before = validateConfig({ upstream: A });
    const after = validateConfig({ upstream: A, health: { maxFails: 2 } });
    const diff = diffConfig(before, after);
    expect(diff.changed).toContain('health');
    expect(diff.effects.has('upstream')).toBe(true);
    expect(diff.restartNeeded).toEqual([]);
  });
});
