import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseHostPattern, requestHostName } from '../../src/routing/host-pattern.js';
import { compileRoutes, type RouteInput } from '../../src/routing/route-table.js';
import { configError } from '../helpers/config-error.js';

const UPSTREAMS = ['api', 'web', 'static'];

describe('route table: matching', () => {
  const table = compileRoutes(
    [
      { host: 'api.example.com', pathPrefix: '/v1', upstream: 'api' },
      { host: '*.example.com', pathPrefix: '/static/', upstream: 'static' },
      { host: 'api.example.com', upstream: 'web' },
      { pathPrefix: '/health', upstream: 'api' },
      { host: '*.internal.example.com', upstream: 'api' },
      { upstream: 'web' },
    ],
    UPSTREAMS,
  );
  const at = (host: string | undefined, path: string): number | undefined => table.match(host, path)?.index;

  it.each([
    ['api.example.com', '/v1/users', 0],
    ['API.Example.COM:8443', '/v1', 0],
    ['api.example.com.', '/v10', 0],
    ['api.example.com', '/static/a.css', 1],
    ['api.example.com', '/v2', 2],
    ['www.example.com', '/static/x', 1],
    ['a.b.example.com', '/static/x', 1],
    ['example.com', '/static/x', 5],
    ['a.internal.example.com', '/health', 3],
    ['a.internal.example.com', '/x', 4],
    ['deep.a.internal.example.com', '/static/y', 1],
    ['other.org', '/health?x=1', 3],
    ['other.org', '/', 5],
    [undefined, '/static/x', 5],
    ['[::1]:8080', '/health', 3],
  ] as const)('%s %s → routes[%s]', (host, path, index) => {
    expect(at(host, path)).toBe(index);
  });

  it('without a default route, a request nothing matches gets undefined', () => {
    const t = compileRoutes([{ host: 'a.example', upstream: 'api' }], UPSTREAMS);
    expect(t.match('b.example', '/')).toBeUndefined();
    expect(t.match(undefined, '/')).toBeUndefined();
    expect(t.match('a.example', '/')?.upstream).toBe('api');
  });

  it('an empty list matches nothing', () => {
    expect(compileRoutes([], UPSTREAMS).match('a', '/')).toBeUndefined();
  });

  it('property: the compiled lookup agrees with trying every route in order', () => {
    const label = fc.constantFrom('a', 'b', 'api', 'example', 'com');
    const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    const host = fc.option(fc.oneof(name, name.map((n) => `*.${n}`)), { nil: undefined });
    const prefix = fc.option(fc.constantFrom('/', '/a', '/a/', '/ab', '/b'), { nil: undefined });
    const route = fc.record({ host, pathPrefix: prefix, upstream: fc.constantFrom(...UPSTREAMS) }, { requiredKeys: ['upstream'] });
    const request = fc.tuple(fc.option(fc.oneof(name, name.map((n) => `${n.toUpperCase()}:80`)), { nil: undefined }), fc.constantFrom('/', '/a', '/a/x', '/ab?q', '/b', '/c'));
    fc.assert(
      fc.property(fc.array(route, { maxLength: 8 }), fc.array(request, { maxLength: 30 }), (routes, requests) => {
        const firstMatch = (h: string | undefined, path: string): number | undefined => {
          const n = h === undefined ? undefined : h.split(':')[0]!.toLowerCase();
          const i = routes.findIndex(
            (r) =>
              (r.host === undefined || (n !== undefined && (r.host.startsWith('*.') ? n.endsWith(r.host.slice(1)) : n === r.host))) &&
              (r.pathPrefix === undefined || path.startsWith(r.pathPrefix)),
          );
          return i < 0 ? undefined : i;
        };
        let table;
        try {
          table = compileRoutes(routes, UPSTREAMS);
        } catch (err) {
          // Refused only as unreachable, and rightly: no request ever picks that route.
          expect((err as ConfigError).message).toContain('can never match');
          const refused = Number(/\[(\d+)\]$/.exec((err as ConfigError).field)![1]);
          for (const [h, path] of requests) expect(firstMatch(h, path)).not.toBe(refused);
          return;
        }
        for (const [h, path] of requests) expect(table.match(h, path)?.index, `${h} ${path}`).toBe(firstMatch(h, path));
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('route table: validation names the field', () => {
  it.each([
    [[{ upstream: 'nope' }], 'routes[0].upstream', 'unknown upstream "nope" (configured: api, web, static)'],
    [[{ host: 'a.example' }], 'routes[0].upstream', 'is required'],
    [[{ upstream: 'api' }, 'x'], 'routes[1]', 'not an object'],
    [[{ upstream: 'api', hots: 'a' }], 'routes[0].hots', 'unknown field'],
    [[{ host: '', upstream: 'api' }], 'routes[0].host', 'empty host'],
    [[{ host: 'a.example:8080', upstream: 'api' }], 'routes[0].host', 'ports are ignored'],
    [[{ host: '*', upstream: 'api' }], 'routes[0].host', 'bad wildcard'],
    [[{ host: '*example.com', upstream: 'api' }], 'routes[0].host', 'bad wildcard'],
    [[{ host: 'a.*.com', upstream: 'api' }], 'routes[0].host', 'bad wildcard'],
    [[{ host: '*.*.com', upstream: 'api' }], 'routes[0].host', 'bad wildcard'],
    [[{ host: '*.', upstream: 'api' }], 'routes[0].host', 'bad wildcard'],
    [[{ host: 'a..b', upstream: 'api' }], 'routes[0].host', 'empty label'],
    [[{ host: 'a b', upstream: 'api' }], 'routes[0].host', 'label "a b"'],
    [[{ pathPrefix: 'v1', upstream: 'api' }], 'routes[0].pathPrefix', 'does not start with "/"'],
    [[{ pathPrefix: '/v1?x', upstream: 'api' }], 'routes[0].pathPrefix', 'contains "?"'],
    [{}, 'routes', 'not a list'],
  ])('%j → %s', (routes, field, reason) => {
    const err = configError(() => compileRoutes(routes, UPSTREAMS));
    expect(err.field).toBe(field);
    expect(err.message).toContain(reason);
  });

  it.each([
    [[{ upstream: 'web' }, { host: 'a.example', upstream: 'api' }], 'routes[1]', 'routes[0] (a catch-all)'],
    [[{ pathPrefix: '/', upstream: 'web' }, { pathPrefix: '/x', upstream: 'api' }], 'routes[1]', 'routes[0] (pathPrefix /)'],
    [[{ host: 'a.example', upstream: 'web' }, { host: 'A.example.', upstream: 'api' }], 'routes[1]', 'host a.example'],
    [[{ host: '*.example.com', upstream: 'web' }, { host: 'x.y.example.com', pathPrefix: '/v1', upstream: 'api' }], 'routes[1]', 'host *.example.com'],
    [[{ host: '*.example.com', upstream: 'web' }, { host: '*.y.example.com', upstream: 'api' }], 'routes[1]', 'host *.example.com'],
    [[{ pathPrefix: '/v1', upstream: 'web' }, { upstream: 'api' }, { host: 'a', pathPrefix: '/v1/x', upstream: 'api' }], 'routes[2]', 'routes[0] (pathPrefix /v1)'],
  ])('unreachable: %j → %s', (routes, field, reason) => {
    const err = configError(() => compileRoutes(routes, UPSTREAMS));
    expect(err.field).toBe(field);
    expect(err.message).toContain('can never match');
    expect(err.message).toContain(reason);
  });

  it.each([
    [{ host: '*.example.com', upstream: 'web' }, { host: 'example.com', upstream: 'api' }],
    [{ host: 'a.example.com', upstream: 'web' }, { host: '*.example.com', upstream: 'api' }],
    [{ pathPrefix: '/v1/', upstream: 'web' }, { pathPrefix: '/v1', upstream: 'api' }],
    [{ host: 'a', pathPrefix: '/v1', upstream: 'web' }, { pathPrefix: '/v1', upstream: 'api' }],
    [{ host: '*.b.example.com', upstream: 'web' }, { host: '*.example.com', upstream: 'api' }],
  ])('reachable, so accepted: %j then %j', (first, second) => {
    expect(compileRoutes([first, second] as RouteInput[], UPSTREAMS).routes).toHaveLength(2);
  });
});

describe('host names', () => {
  it.each([
    ['Example.COM:80', 'example.com'],
    ['example.com.', 'example.com'],
    ['[::1]:8080', '[::1]'],
    ['10.0.0.1:80', '10.0.0.1'],
    ['', undefined],
    [undefined, undefined],
  ])('request Host %j → %j', (host, name) => {
    expect(requestHostName(host)).toBe(name);
  });

  it.each([
    ['[::1]', { kind: 'exact', name: '[::1]' }],
    ['10.0.0.1', { kind: 'exact', name: '10.0.0.1' }],
    ['*.Example.com', { kind: 'wildcard', suffix: '.example.com' }],
    ['under_score.internal', { kind: 'exact', name: 'under_score.internal' }],
  ])('pattern %j', (text, pattern) => {
    expect(parseHostPattern(text, 'h')).toEqual(pattern);
  });
});
