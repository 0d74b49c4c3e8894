import { BlockList, isIP } from 'node:net';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/schema.js';
import { displayAddress, parseIpAddress } from '../../src/proxy/ip-address.js';
import { parseCidr, TrustedProxies } from '../../src/proxy/trusted-proxies.js';
import { configError } from '../helpers/config-error.js';

const UP = { upstream: 'http://10.0.0.2:8080' };

describe('parseIpAddress', () => {
  it.each([
    ['10.0.0.1', [0, 0, 0xffff, 0x0a000001]],
    ['::ffff:10.0.0.1', [0, 0, 0xffff, 0x0a000001]],
    ['::1', [0, 0, 0, 1]],
    ['::', [0, 0, 0, 0]],
    ['2001:db8::8:800:200c:417a', [0x20010db8, 0, 0x00080800, 0x200c417a]],
    ['2001:DB8:0:0:0:0:0:1', [0x20010db8, 0, 0, 1]],
    ['64:ff9b::192.0.2.33', [0x0064ff9b, 0, 0, 0xc0000221]],
  ])('%s', (text, words) => {
    expect(parseIpAddress(text)).toEqual(words);
  });

  it.each(['', '010.0.0.1', '10.0.0', '10.0.0.256', '1::2::3', 'fe80::1%eth0', '[::1]', ' 10.0.0.1', 'localhost', '12345::'])('%j is refused', (text) => {
    expect(parseIpAddress(text)).toBeUndefined();
  });

  it('property: accepts exactly what node:net calls an IP (without a zone), and reads every spelling of an address alike', () => {
    const hostile = fc.oneof(
      fc.string({ maxLength: 45 }),
      fc.stringMatching(/^[0-9a-fA-F:.%]{0,45}$/),
      fc.ipV4().map((a) => `::ffff:${a}`),
      fc.ipV6(),
      fc.ipV4Extended(),
    );
    fc.assert(
      fc.property(hostile, (text) => {
        const words = parseIpAddress(text);
        expect(words !== undefined, text).toBe(isIP(text) !== 0 && !text.includes('%'));
      }),
      { numRuns: 2_000 },
    );
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const list = new BlockList();
        list.addAddress(text, 'ipv6');
        // node's BlockList canonicalises too: the same address under its own spelling.
        const words = parseIpAddress(text)!;
        const hex = words.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(':');
        expect(list.check(hex, 'ipv6'), `${text} → ${hex}`).toBe(true);
      }),
    );
  });

  it('displayAddress writes an IPv4-mapped address as IPv4 and leaves others alone', () => {
    expect(displayAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(displayAddress('10.0.0.1')).toBe('10.0.0.1');
    expect(displayAddress('::ffff:1')).toBe('::ffff:1');
    expect(displayAddress('2001:db8::1')).toBe('2001:db8::1');
  });
});

describe('parseCidr', () => {
  it.each([
    [42, 'not a string'],
    ['10.0.0.0/33', 'prefix length "33"'],
    ['::/129', 'prefix length "129"'],
    ['10.0.0.0/08', 'prefix length "08"'],
    ['10.0.0.0/', 'prefix length ""'],
    ['10.0.0.0/8/8', 'prefix length "8/8"'],
    ['10.0.0.1/8', 'did you mean 10.0.0.0/8?'],
    ['2001:db8::1/32', 'did you mean 2001:db8:0:0:0:0:0:0/32?'],
    ['fe80::1%eth0/64', 'is not an IPv4 or IPv6 address'],
    ['example.com/8', 'is not an IPv4 or IPv6 address'],
    [`${'1'.repeat(70)}/8`, 'longer than 64'],
  ])('%j: %s', (text, reason) => {
    const parsed = parseCidr(text);
    expect(typeof parsed).toBe('string');
    expect(parsed).toContain(reason);
  });

  it('property: any input gives a network or a reason, never a throw; a network address with any prefix parses', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.stringMatching(/^[0-9a-f:.\/%]{0,50}$/), fc.anything()), (input) => {
        const parsed = parseCidr(input);
        expect(typeof parsed === 'string' || (parsed.words.length === 4 && parsed.mask.length === 4)).toBe(true);
      }),
      { numRuns: 3_000 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.ipV4().map((a) => [a, 32] as const), fc.ipV6().map((a) => [a, 128] as const)), fc.nat(128), ([address, max], bits) => {
        const parsed = parseCidr(`${address}/${bits % (max + 1)}`);
        // Either a network, or refused only for host bits past the prefix, with the network to use instead.
        if (typeof parsed === 'string') {
          expect(parsed).toMatch(/host bits are set past \/\d+: did you mean .+\/\d+\?/);
          const suggested = /did you mean (.+)\?/.exec(parsed)![1]!;
          expect(typeof parseCidr(suggested)).toBe('object');
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('a bare address is a single host', () => {
    const t = new TrustedProxies(['10.0.0.7', '::1']);
    expect(t.trusts('10.0.0.7')).toBe(true);
    expect(t.trusts('10.0.0.8')).toBe(false);
    expect(t.trusts('::1')).toBe(true);
    expect(t.trusts('::2')).toBe(false);
  });
});

describe('TrustedProxies', () => {
  const t = new TrustedProxies(['10.0.0.0/8', '192.168.1.0/24', '::1/128', '2001:db8::/32']);

  it.each([
    ['10.1.2.3', true],
    ['::ffff:10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.200', true],
    ['192.168.2.1', false],
    ['::1', true],
    ['2001:db8:ffff::1', true],
    ['2001:db9::1', false],
    ['fe80::1%eth0', false],
    ['not an address', false],
    [undefined, false],
  ])('%s → %s', (address, trusted) => {
    expect(t.trusts(address)).toBe(trusted);
  });

  it('0.0.0.0/0 trusts every IPv4 peer (mapped too) and no IPv6 one; ::/0 trusts all', () => {
    const v4 = new TrustedProxies(['0.0.0.0/0']);
    expect(v4.trusts('203.0.113.9')).toBe(true);
    expect(v4.trusts('::ffff:203.0.113.9')).toBe(true);
    expect(v4.trusts('2001:db8::1')).toBe(false);
    expect(new TrustedProxies(['::/0']).trusts('2001:db8::1')).toBe(true);
  });

  it('names the bad entry by index', () => {
    const err = configError(() => new TrustedProxies(['10.0.0.0/8', '10.0.0.0/40']));
    expect(err.field).toBe('trustedProxies[1]');
    expect(err.message).toContain('prefix length "40"');
  });

  it('asks the socket once per connection; an empty list never reads it', () => {
    let reads = 0;
    const socket = {
      get remoteAddress() {
        reads++;
        return '10.0.0.9';
      },
    } as unknown as Socket;
    expect(new TrustedProxies([]).trustsPeer(socket)).toBe(false);
    expect(reads).toBe(0);
    expect(t.trustsPeer(socket)).toBe(true);
    const after = reads;
    expect(t.trustsPeer(socket)).toBe(true);
    expect(reads).toBe(after);
  });

  it('property: agrees with node:net BlockList on random networks and addresses, hostile peers included', () => {
    const v4net = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 }));
    const v6net = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 }));
    const peer = fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4().map((a) => `::ffff:${a}`), fc.string({ maxLength: 20 }));
    fc.assert(
      fc.property(fc.array(fc.oneof(v4net, v6net), { maxLength: 4 }), fc.array(peer, { maxLength: 8 }), (nets, peers) => {
        const oracle = new BlockList();
        const cidrs: string[] = [];
        for (const [address, bits] of nets) {
          const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
          // The network address (host bits cleared), spelled the way node's BlockList canonicalises it.
          const parsed = parseCidr(`${address}`);
          if (typeof parsed === 'string') throw new Error(parsed);
          const net = maskedText(parsed.words, family === 'ipv4' ? 96 + bits : bits, family);
          cidrs.push(`${net}/${bits}`);
          oracle.addSubnet(net, bits, family);
        }
        const trusted = new TrustedProxies(cidrs);
        for (const p of peers) {
          const family = isIP(p);
          if (family === 0) {
            expect(trusted.trusts(p)).toBe(false);
            continue;
          }
          const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(p)?.[1];
          const v4 = family === 4 ? p : mapped;
          // BlockList keeps the families apart: ask it in IPv4 for a mapped address, as synpool reads it.
          const expected = v4 !== undefined ? oracle.check(v4, 'ipv4') || oracle.check(p, 'ipv6') : oracle.check(p, 'ipv6');
          expect(trusted.trusts(p), `${p} in ${cidrs.join(' ')}`).toBe(expected);
        }
      }),
      { numRuns: 500 },
    );
  });
});

function maskedText(words: readonly number[], bits: number, family: 'ipv4' | 'ipv6'): string {
  const masked = words.map((w, i) => {
    const n = Math.max(0, Math.min(32, bits - 32 * i));
    return n === 0 ? 0 : (w & ((0xffffffff << (32 - n)) >>> 0)) >>> 0;
  });
  if (family === 'ipv4') {
    const w = masked[3]!;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  return masked.flatMap((w) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)]).join(':');
}

describe('config: trustedProxies and forwardedHeader', () => {
  it('default to none and x-forwarded', () => {
    const c = validateConfig(UP);
    expect(c.trustedProxies).toEqual([]);
    expect(c.forwardedHeader).toBe('x-forwarded');
  });

  it('accepts IPv4 and IPv6 CIDRs, keeps a frozen copy', () => {
    const list = ['10.0.0.0/8', '::1/128'];
    const c = validateConfig({ ...UP, trustedProxies: list, forwardedHeader: 'both' });
    expect(c.trustedProxies).toEqual(list);
    expect(Object.isFrozen(c.trustedProxies)).toBe(true);
    expect(Object.isFrozen(list)).toBe(false);
  });

  it.each([
    [{ trustedProxies: '10.0.0.0/8' }, 'trustedProxies', 'a list of IPv4 or IPv6 CIDRs'],
    [{ trustedProxies: ['10.0.0.0/8', '10.0.0.1/8'] }, 'trustedProxies[1]', 'did you mean 10.0.0.0/8?'],
    [{ trustedProxies: [null] }, 'trustedProxies[0]', 'not a string'],
    [{ forwardedHeader: 'x-forwarded-for' }, 'forwardedHeader', 'one of x-forwarded, forwarded, both'],
  ])('%j → %s', (layer, field, reason) => {
    const err = configError(() => validateConfig({ ...UP, ...layer }));
    expect(err.field).toBe(field);
    expect(err.message).toContain(reason);
  });
});
