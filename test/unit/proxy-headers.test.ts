import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FORWARDED_HEADER_MODES } from '../../src/proxy/forwarded-element.js';
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

  it('response headers named by Connection are dropped wherever they come, Via included (then only this hop is in it)', () => {
    const before = clientResponseHeaders({ 'x-a': '1', via: '1.0 edge', connection: 'x-a, via', 'x-b': '2' });
    expect(before).toEqual(['x-b', '2', 'via', '1.1 synpool']);
    expect(clientResponseHeaders({ connection: ['x-b', 'close'], 'x-a': '1', 'x-b': '2' })).toEqual(['x-a', '1', 'via', '1.1 synpool']);
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

  const forged = ['Host', 'a', 'X-Forwarded-For', '198.51.100.1', 'x-forwarded-for', '198.51.100.2', 'Via', '1.0 edge', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'spoof', 'Forwarded', 'for=198.51.100.1', 'X-Real-IP', '198.51.100.1', 'X-Forwarded-Port', '443'];

  it('from an untrusted peer replaces X-Forwarded-*, Forwarded and X-Real-IP (a client cannot choose its address); appends to Via', () => {
    const h = asObject(upstreamRequestHeaders(forged, { ...ctx, httpVersion: '1.0' }));
    expect(h).toEqual({
      host: ['10.0.0.2:8080'],
      'x-forwarded-for': ['192.0.2.7'],
      'x-forwarded-proto': ['http'],
      'x-forwarded-host': ['a'],
      via: ['1.0 edge, 1.0 synpool'],
    });
  });

  it('from a trusted peer extends X-Forwarded-For, keeps -Proto, -Host and the other forwarding headers', () => {
    const h = asObject(upstreamRequestHeaders(forged, { ...ctx, trustedPeer: true }));
    expect(h['x-forwarded-for']).toEqual(['198.51.100.1, 198.51.100.2, 192.0.2.7']);
    expect(h['x-forwarded-proto']).toEqual(['https']);
    expect(h['x-forwarded-host']).toEqual(['spoof']);
    expect(h['x-real-ip']).toEqual(['198.51.100.1']);
    expect(h['x-forwarded-port']).toEqual(['443']);
    // Not the family written: removed even from a trusted peer.
    expect(h.forwarded).toBeUndefined();
  });

  it('a trusted peer without forwarding headers gets the same headers as an untrusted one', () => {
    const raw = ['Host', 'a', 'Accept', '*/*'];
    expect(upstreamRequestHeaders(raw, { ...ctx, trustedPeer: true })).toEqual(upstreamRequestHeaders(raw, ctx));
  });

  it('no peer address: no X-Forwarded-For from an untrusted peer, the received chain from a trusted one, for=unknown', () => {
    const noAddress = { ...ctx, clientAddress: undefined };
    expect(asObject(upstreamRequestHeaders(forged, noAddress))['x-forwarded-for']).toBeUndefined();
    expect(asObject(upstreamRequestHeaders(forged, { ...noAddress, trustedPeer: true }))['x-forwarded-for']).toEqual(['198.51.100.1, 198.51.100.2']);
    expect(asObject(upstreamRequestHeaders(['Host', 'a'], { ...noAddress, forwardedHeader: 'forwarded' })).forwarded).toEqual(['for=unknown;host=a;proto=http']);
  });

  it('an IPv4-mapped peer address is written as IPv4', () => {
    const h = asObject(upstreamRequestHeaders(['Host', 'a'], { ...ctx, clientAddress: '::ffff:192.0.2.7', forwardedHeader: 'both' }));
    expect(h['x-forwarded-for']).toEqual(['192.0.2.7']);
    expect(h.forwarded).toEqual(['for=192.0.2.7;host=a;proto=http']);
  });

  describe("forwardedHeader: 'forwarded' (RFC 7239)", () => {
    const fwd = { ...ctx, forwardedHeader: 'forwarded' as const };

    it('writes one element for this hop and no X-Forwarded-*', () => {
      const h = asObject(upstreamRequestHeaders(forged, fwd));
      expect(h.forwarded).toEqual(['for=192.0.2.7;host=a;proto=http']);
      for (const name of ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']) expect(h[name], name).toBeUndefined();
    });

    it('quotes an IPv6 node in brackets and drops its zone; quotes a host that is not a token', () => {
      const h = asObject(upstreamRequestHeaders(['Host', 'example.com:8080'], { ...fwd, clientAddress: 'fe80::1%eth0' }));
      expect(h.forwarded).toEqual(['for="[fe80::1]";host="example.com:8080";proto=http']);
      const v6 = asObject(upstreamRequestHeaders(['Host', 'example.com'], { ...fwd, clientAddress: '2001:db8::7' }));
      expect(v6.forwarded).toEqual(['for="[2001:db8::7]";host=example.com;proto=http']);
    });

    it('escapes quotes and backslashes inside a quoted host', () => {
      const h = asObject(upstreamRequestHeaders(['Host', 'a"b\\c'], fwd));
      expect(h.forwarded).toEqual(['for=192.0.2.7;host="a\\"b\\\\c";proto=http']);
    });

    it('leaves host out when the client sent none', () => {
      expect(asObject(upstreamRequestHeaders([], fwd)).forwarded).toEqual(['for=192.0.2.7;proto=http']);
    });

    it('from a trusted peer appends to the received elements, obfuscated and unknown ones verbatim', () => {
      const raw = ['Host', 'a', 'Forwarded', 'for=_hidden;proto=https', 'forwarded', 'for=unknown, for="[2001:db8::1]:4711"'];
      const h = asObject(upstreamRequestHeaders(raw, { ...fwd, trustedPeer: true }));
      expect(h.forwarded).toEqual(['for=_hidden;proto=https, for=unknown, for="[2001:db8::1]:4711", for=192.0.2.7;host=a;proto=http']);
    });
  });

  it("forwardedHeader: 'both' writes both families", () => {
    const h = asObject(upstreamRequestHeaders(['Host', 'a'], { ...ctx, forwardedHeader: 'both' }));
    expect(h['x-forwarded-for']).toEqual(['192.0.2.7']);
    expect(h.forwarded).toEqual(['for=192.0.2.7;host=a;proto=http']);
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
  const FORWARDING = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded'];
  const isForwarding = (l: string): boolean => l === 'forwarded' || l === 'x-real-ip' || l.startsWith('x-forwarded-');
  function modelElement(address: string | undefined, host: string | undefined): string {
    const node = address === undefined ? 'unknown' : address.includes(':') ? `"[${address.split('%')[0]}]"` : address;
    const quoted = (v: string): string => (/^[\w!#$%&'*+.^`|~-]+$/.test(v) ? v : `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`);
    return `for=${node}${host === undefined ? '' : `;host=${quoted(host)}`};proto=http`;
  }
  function modelRequest(raw: string[], c: ForwardContext): string[] {
    const received = pairsFromRaw(raw);
    const clientHost = joined(received, 'host');
    const trusted = c.trustedPeer === true;
    let pairs = without(removeHopByHop(received), ['expect', 'host']);
    const prior = (l: string): string | undefined => (trusted ? joined(pairs, l) : undefined);
    const [priorFor, priorProto, priorHost, priorForwarded] = FORWARDING.map(prior);
    pairs = pairs.filter(([n]) => !isForwarding(n.toLowerCase()) || (trusted && !FORWARDING.includes(n.toLowerCase())));
    pairs.unshift(['host', c.preserveHost && clientHost !== undefined ? clientHost : c.upstreamHost]);
    const address = c.clientAddress?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
    const mode = c.forwardedHeader ?? 'x-forwarded';
    if (mode !== 'forwarded') {
      if (address !== undefined) pairs.push(['x-forwarded-for', priorFor === undefined ? address : `${priorFor}, ${address}`]);
      else if (priorFor !== undefined) pairs.push(['x-forwarded-for', priorFor]);
      pairs.push(['x-forwarded-proto', priorProto ?? 'http']);
      if ((priorHost ?? clientHost) !== undefined) pairs.push(['x-forwarded-host', (priorHost ?? clientHost)!]);
    }
    if (mode !== 'x-forwarded') {
      const element = modelElement(address, clientHost);
      pairs.push(['forwarded', priorForwarded === undefined ? element : `${priorForwarded}, ${element}`]);
    }
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
  const special = ['Host', 'host', 'Connection', 'connection', 'Keep-Alive', 'TE', 'Upgrade', 'Proxy-Auth', 'Expect', 'X-Forwarded-For', 'x-forwarded-proto', 'X-Forwarded-Host', 'X-Forwarded-Port', 'Forwarded', 'X-Real-IP', 'Via', 'via', 'X-A', 'x-b', 'Accept'];
  const name = fc.oneof(fc.constantFrom(...special), fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,8}$/));
  const value = fc.oneof(fc.constantFrom('x-a, via', ' X-B ', 'close', 'x-forwarded-for', ' 1.0 edge '), fc.stringMatching(/^[ -~]{0,10}$/));

  it('property: upstreamRequestHeaders', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, value), { maxLength: 16 }),
        fc.boolean(),
        fc.option(fc.constantFrom('192.0.2.9', '::ffff:192.0.2.9', '2001:db8::9', 'fe80::1%lo'), { nil: undefined }),
        fc.constantFrom('1.0', '1.1'),
        fc.boolean(),
        fc.constantFrom(...FORWARDED_HEADER_MODES),
        (pairs, preserveHost, clientAddress, httpVersion, trustedPeer, forwardedHeader) => {
          const c = { ...ctx, preserveHost, clientAddress, httpVersion, trustedPeer, forwardedHeader };
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
