import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, pairsFromRaw, removeHopByHop, upstreamPath, upstreamRequestHeaders, type ForwardContext } from '../../src/proxy/headers.js';

const ctx = { clientAddress: '192.0.2.7', httpVersion: '1.1', upstreamHost: '10.0.0.2:8080', preserveHost: false };

function asObject(flat: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [n, v] of pairsFromRaw(flat)) (out[n.toLowerCase()] ??= []).push(v);
  return out;
}

describe('hop-by-hop removal', () => {
  it('drops Connection, the headers it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade', () => {
    const kept = removeHopByHop([
      ['Connection', 'X-Private, keep-alive'],
      ['X-Private', 'secret'],
      ['Keep-Alive', 'timeout=5'],
      ['Proxy-Authorization', 'Basic x'],
      ['Proxy-Connection', 'keep-alive'],
      ['TE', 'trailers'],
      ['Trailer', 'X-Sum'],
      ['Transfer-Encoding', 'chunked'],
      ['Upgrade', 'websocket'],
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
    expect(kept).toEqual([
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
  });

  it('property: no hop-by-hop header ever survives, and every other header is kept in order', () => {
    const hop = ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-foo'];
    const name = fc.oneof(fc.constantFrom(...hop, 'x-a', 'x-b', 'content-type'), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/));
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.stringMatching(/^[ -~]{0,12}$/)), { maxLength: 20 }), (pairs) => {
        const named = new Set(
          pairs.filter(([n]) => n === 'connection').flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase())),
        );
        const out = removeHopByHop(pairs as [string, string][]);
        const expected = pairs.filter(([n]) => !hop.includes(n) && !n.startsWith('proxy-') && !named.has(n));
        expect(out).toEqual(expected);
      }),
    );
  });

  it('response headers lose hop-by-hop ones and gain Via', () => {
    const flat = clientResponseHeaders({ connection: 'close', 'keep-alive': 'timeout=1', 'content-length': '3', via: '1.1 origin' });
    expect(asObject(flat)).toEqual({ 'content-length': ['3'], via: ['1.1 origin, 1.1 synpool'] });
  });
});

describe('forwarding headers', () => {
  it('adds X-Forwarded-For/-Proto/-Host and Via, sets Host to the upstream', () => {
    const h = asObject(upstreamRequestHeaders(['Host', 'public.example', 'Accept', '*/*'], ctx));
    expect(h).toEqual({
      host: ['10.0.0.2:8080'],
      accept: ['*/*'],
      'x-forwarded-for': ['192.0.2.7'],
      'x-forwarded-proto': ['http'],
      'x-forwarded-host': ['public.example'],
      via: ['1.1 synpool'],
    });
  });

  it('appends to an existing X-Forwarded-For and Via chain; replaces a client-sent X-Forwarded-Proto/-Host', () => {
    const h = asObject(
      upstreamRequestHeaders(
        ['Host', 'a', 'X-Forwarded-For', '198.51.100.1', 'x-forwarded-for', '198.51.100.2', 'Via', '1.0 edge', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'spoof'],
        { ...ctx, httpVersion: '1.0' },
      ),
    );
    expect(h['x-forwarded-for']).toEqual(['198.51.100.1, 198.51.100.2, 192.0.2.7']);
    expect(h.via).toEqual(['1.0 edge, 1.0 synpool']);
    expect(h['x-forwarded-proto']).toEqual(['http']);
    expect(h['x-forwarded-host']).toEqual(['a']);
  });

  it('preserveHost keeps the client Host', () => {
    const h = asObject(upstreamRequestHeaders(['Host', 'public.example:8443'], { ...ctx, preserveHost: true }));
    expect(h.host).toEqual(['public.example:8443']);
  });

  it('drops Expect (node:http already answered 100-continue) and hop-by-hop headers', () => {
    const h = asObject(upstreamRequestHeaders(['Host', 'a', 'Expect', '100-continue', 'Connection', 'X-Y', 'X-Y', '1', 'TE', 'trailers'], ctx));
    expect(h.expect).toBeUndefined();
    expect(h['x-y']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h.connection).toBeUndefined();
  });
});

describe('request target → upstream path', () => {
  it.each([
    ['/a/b?c=d', '/a/b?c=d'],
    ['//evil.example/x', '//evil.example/x'],
    ['http://evil.example/steal?x=1', '/steal?x=1'],
    ['HTTP://evil.example:9999', '/'],
    ['https://evil.example/p', '/p'],
  ])('%s → %s (the destination is never taken from the target)', (target, path) => {
    expect(upstreamPath(target)).toBe(path);
  });

  it.each(['*', 'evil.example:443', '', 'ftp://x/y'])('%s → rejected', (target) => {
    expect(upstreamPath(target)).toBeUndefined();
  });
});

describe('the one-pass header builders agree with the pair helpers', () => {
  // The composition headers.ts used before the one-pass versions (kept as the model).
  function joined(pairs: readonly [string, string][], lower: string): string | undefined {
    const v = pairs.filter(([n]) => n.toLowerCase() === lower).map(([, x]) => x.trim());
    return v.length === 0 ? undefined : v.join(', ');
  }
  const without = (pairs: [string, string][], names: string[]) => pairs.filter(([n]) => !names.includes(n.toLowerCase()));
  function via(pairs: [string, string][], version: string): [string, string][] {
    const prior = joined(pairs, 'via');
    const hop = `${version} synpool`;
    return [...without(pairs, ['via']), ['via', prior === undefined ? hop : `${prior}, ${hop}`]];
  }
  function modelRequest(raw: string[], c: ForwardContext): string[] {
    const received = pairsFromRaw(raw);
    const clientHost = joined(received, 'host');
    let pairs = without(removeHopByHop(received), ['expect', 'host', 'x-forwarded-proto', 'x-forwarded-host']);
    const priorFor = joined(pairs, 'x-forwarded-for');
    pairs = without(pairs, ['x-forwarded-for']);
    pairs.unshift(['host', c.preserveHost && clientHost !== undefined ? clientHost : c.upstreamHost]);
    if (c.clientAddress !== undefined) pairs.push(['x-forwarded-for', priorFor === undefined ? c.clientAddress : `${priorFor}, ${c.clientAddress}`]);
    else if (priorFor !== undefined) pairs.push(['x-forwarded-for', priorFor]);
    pairs.push(['x-forwarded-proto', 'http']);
    if (clientHost !== undefined) pairs.push(['x-forwarded-host', clientHost]);
    return via(pairs, c.httpVersion).flat();
  }
  function modelResponse(headers: Record<string, string | string[] | undefined>): string[] {
    const pairs: [string, string][] = [];
    for (const [n, v] of Object.entries(headers)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) for (const x of v) pairs.push([n, x]);
      else pairs.push([n, v]);
    }
    return via(removeHopByHop(pairs), '1.1').flat();
  }
  const special = ['Host', 'host', 'Connection', 'connection', 'Keep-Alive', 'TE', 'Upgrade', 'Proxy-Auth', 'Expect', 'X-Forwarded-For', 'x-forwarded-proto', 'X-Forwarded-Host', 'Via', 'via', 'X-A', 'x-b', 'Accept'];
  const name = fc.oneof(fc.constantFrom(...special), fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,8}$/));
  const value = fc.oneof(fc.constantFrom('x-a, via', ' X-B ', 'close', 'x-forwarded-for', ' 1.0 edge '), fc.stringMatching(/^[ -~]{0,10}$/));

  it('property: upstreamRequestHeaders', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, value), { maxLength: 16 }),
        fc.boolean(),
        fc.option(fc.constant('192.0.2.9'), { nil: undefined }),
        fc.constantFrom('1.0', '1.1'),
        (pairs, preserveHost, clientAddress, httpVersion) => {
          const c = { ...ctx, preserveHost, clientAddress, httpVersion };
          const raw = pairs.flat();
          expect(upstreamRequestHeaders(raw, c)).toEqual(modelRequest(raw, c));
        },
      ),
    );
  });

  it('property: clientResponseHeaders', () => {
    const lowerName = fc.oneof(fc.constantFrom(...special.map((s) => s.toLowerCase())), fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/));
    fc.assert(
      fc.property(fc.dictionary(lowerName, fc.oneof(value, fc.array(value, { maxLength: 3 }))), (headers) => {
        expect(clientResponseHeaders(headers)).toEqual(modelResponse(headers));
      }),
    );
  });
});
