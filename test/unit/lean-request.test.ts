import type { Dispatcher } from 'undici';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitFirstAttempts } from '../../src/proxy/connection-budget.js';
import { leanHead, originHost } from '../../src/proxy/lean-request.js';

const opts = (o: Partial<Dispatcher.DispatchOptions>): Dispatcher.DispatchOptions => ({ origin: 'http://a', path: '/', method: 'GET', ...o }) as Dispatcher.DispatchOptions;

describe('leanHead: which requests the lean exchange takes', () => {
  it('writes host first (the headers\' own, else the origin\'s), then connection, then the rest in order', () => {
    expect(leanHead(opts({ path: '/x?y', headers: ['Accept', '*/*', 'X-A', '1'] }), 'a:8080')).toBe('GET /x?y HTTP/1.1\r\nhost: a:8080\r\nconnection: keep-alive\r\nAccept: */*\r\nX-A: 1\r\n\r\n');
    expect(leanHead(opts({ method: 'OPTIONS', headers: ['X-A', '1', 'Host', 'b.example'] }), 'a')).toBe('OPTIONS / HTTP/1.1\r\nhost: b.example\r\nconnection: keep-alive\r\nX-A: 1\r\n\r\n');
  });

  it.each([
    ['HEAD', opts({ method: 'HEAD' })],
    ['POST', opts({ method: 'POST' })],
    ['a body', opts({ body: '' })],
    ['an upgrade', opts({ upgrade: 'websocket' })],
    ['a query option', opts({ query: { a: 1 } } as never)],
    ['an absolute path', opts({ path: 'http://a/' })],
    ['a space in the path', opts({ path: '/a b' })],
    ['object headers', opts({ headers: { a: '1' } })],
    ['an odd header list', opts({ headers: ['a'] as never })],
    ['a content-length header', opts({ headers: ['Content-Length', '0'] })],
    ['an expect header', opts({ headers: ['expect', '100-continue'] })],
    ['a connection header', opts({ headers: ['Connection', 'close'] })],
    ['a CRLF in a value', opts({ headers: ['x', 'a\r\nInjected: 1'] })],
    ['a CRLF in the Host value', opts({ headers: ['Host', 'a\r\nInjected: 1'] })],
    ['a tab in a header name', opts({ headers: ['x\ty', '1'] })],
    ['an empty header name', opts({ headers: ['', '1'] })],
    ['a bad header name', opts({ headers: ['x y', '1'] })],
    ['an array value', opts({ headers: ['x', ['1', '2']] as never })],
  ])('leaves %s to undici', (_name, o) => {
    expect(leanHead(o, 'a')).toBeUndefined();
  });

  it('never lets a value or path break out of its line (property: arbitrary strings)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (path, name, value) => {
        const head = leanHead(opts({ path: `/${path}`, headers: [name, value] }), 'a');
        if (head === undefined) return;
        const lines = head.split('\r\n');
        // Status line, host, connection, the one header, then the blank line that ends the head.
        expect(lines).toHaveLength(6);
        expect(lines.slice(4)).toEqual(['', '']);
        expect(lines[3]).toBe(`${name}: ${value}`);
      }),
    );
  });

  it('takes a header list exactly when every name is a token and every value is clean (property: several headers, hostile characters)', () => {
    // The per-header checks undici makes (lib/core/util.js), one header at a time: leanHead checks them all at once.
    const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
    const badValue = /[^\t\x20-\x7e\x80-\xff]/;
    const handled = new Set(['content-length', 'transfer-encoding', 'expect', 'upgrade', 'connection', 'keep-alive']);
    const char = fc.constantFrom('a', 'Z', '-', '!', '~', ' ', '\t', ':', '\r', '\n', '\0', '\x7f', '\xe9', '\u0101', '"', '(');
    const text = fc.array(char, { maxLength: 6 }).map((cs) => cs.join(''));
    const header = fc.tuple(fc.oneof(text, fc.constantFrom('Host', 'x-a', 'Accept')), text);
    fc.assert(
      fc.property(fc.array(header, { maxLength: 5 }), (pairs) => {
        const head = leanHead(opts({ headers: pairs.flat() }), 'a');
        const clean = pairs.every(([n, v]) => token.test(n) && !badValue.test(v) && !handled.has(n.toLowerCase()));
        expect(head !== undefined).toBe(clean);
        if (head !== undefined) expect(head.split('\r\n')).toHaveLength(5 + pairs.filter(([n]) => n.toLowerCase() !== 'host').length);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes the origin\'s host as undici sends it (no default port)', () => {
    expect(originHost('http://10.0.0.2:80')).toBe('10.0.0.2');
    expect(originHost('http://[::1]:8080')).toBe('[::1]:8080');
  });
});

describe('splitFirstAttempts: the lean exchange\'s share of the first attempts', () => {
  it.each([2, 3, 4, 7, 224, 65_535])('%i: both sides at least 1, adding up to it', (share) => {
    const { lean, streamed } = splitFirstAttempts(share);
    expect(lean! + streamed!).toBe(share);
    expect(lean).toBeGreaterThanOrEqual(1);
    expect(streamed).toBeGreaterThanOrEqual(Math.max(1, Math.floor(share / 4)));
  });

  it('a share of 1 stays with undici (lean off); null stays unbounded on both', () => {
    expect(splitFirstAttempts(1)).toEqual({ lean: 0, streamed: 1 });
    expect(splitFirstAttempts(null)).toEqual({ lean: null, streamed: null });
    expect(splitFirstAttempts(224)).toEqual({ lean: 168, streamed: 56 });
  });
});
