import { describe, expect, it } from 'vitest';
import { parseCliArgs } from '../../src/cli.js';
import { validateConfig } from '../../src/config/schema.js';
import { configError } from '../helpers/config-error.js';

const A = 'http://10.0.0.2:8080';
const B = 'http://10.0.0.3:8080';
const C = 'https://static.example';

describe('upstreams and routes', () => {
  it('`upstream` becomes upstream "default" with one catch-all route', () => {
    const c = validateConfig({ upstream: A });
    expect(c.upstreams).toEqual({ default: expect.objectContaining({ servers: [A], balance: 'round-robin' }) });
    expect(c.routes).toEqual([{ upstream: 'default' }]);
  });

  it('named upstreams: balance, pool overrides on top of the top-level pool, routes kept in order', () => {
    const c = validateConfig({
      pool: { ttlMs: 40_000 },
      upstreams: { app: { servers: [A, B], balance: 'least-requests', pool: { sizing: 'fixed', targetSize: 4 } }, static: { servers: [C] } },
      routes: [{ host: 'api.example.com', pathPrefix: '/v1', upstream: 'app' }, { upstream: 'static' }],
    });
    expect(c.upstreams.app).toMatchObject({ servers: [A, B], balance: 'least-requests', pool: { sizing: 'fixed', targetSize: 4, ttlMs: 40_000 } });
    expect(c.upstreams.static).toMatchObject({ servers: [C], balance: 'round-robin', pool: { sizing: 'demand', ttlMs: 40_000 } });
    expect(c.routes.map((r) => r.upstream)).toEqual(['app', 'static']);
    expect(c.upstream).toBeNull();
  });

  it('errors name the field', () => {
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [] } } })).field).toBe('upstreams.app.servers');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A, A] } } })).field).toBe('upstreams.app.servers[1]');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A] }, web: { servers: [A] } } })).message).toMatch(/already a server of upstream "app"/);
    expect(configError(() => validateConfig({ upstreams: { app: { servers: ['ftp://x'] } } })).field).toBe('upstreams.app.servers[0]');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A], balance: 'fastest' } } })).field).toBe('upstreams.app.balance');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A], pool: { targetSize: -1 } } } })).field).toBe('upstreams.app.pool.targetSize');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A], weight: 2 } } })).field).toBe('upstreams.app.weight');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A] } }, routes: [{ upstream: 'nope' }] })).field).toBe('routes[0].upstream');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A] } }, routes: [{ upstream: 'app' }, { host: 'a.example', upstream: 'app' }] })).field).toBe('routes[1]');
    expect(configError(() => validateConfig({ upstreams: { app: { servers: [A] }, web: { servers: [B] } } })).field).toBe('routes');
    expect(configError(() => validateConfig({ upstream: A, upstreams: { app: { servers: [B] } } })).field).toBe('upstreams');
    expect(configError(() => validateConfig({})).field).toBe('upstream');
  });

  it('a later layer that names upstreams replaces an earlier one\'s (flags over the file)', () => {
    const file = { upstreams: { app: { servers: [A] }, web: { servers: [B] } }, routes: [{ host: 'a.example', upstream: 'app' }, { upstream: 'web' }] };
    const c = validateConfig(file, { upstream: C });
    expect(Object.keys(c.upstreams)).toEqual(['default']);
    expect(c.routes).toEqual([{ upstream: 'default' }]);
  });

  it('--upstream repeated: the servers of upstream "default"', () => {
    const cmd = parseCliArgs(['--upstream', A, '--upstream', B]);
    expect(cmd).toMatchObject({ command: 'serve', overrides: { upstreams: { default: { servers: [A, B] } } } });
    const c = validateConfig((cmd as { overrides: object }).overrides);
    expect(c.upstreams.default?.servers).toEqual([A, B]);
    expect(parseCliArgs(['--upstream', A])).toMatchObject({ overrides: { upstream: A } });
  });
});
