import { isIPv6 } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, formatIpv6Address, parseIpv6Address } from '../../src/packet/index.js';

/** WHATWG URL's serializer is an independent RFC 5952 implementation (it never writes a dotted-quad tail either). */
const viaUrl = (text: string): string => new URL(`http://[${text}]/`).hostname.slice(1, -1);

/** Addresses with long zero runs: uniform bytes almost never have them, and they are where compression goes wrong. */
const wordsArb = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
const toBytes = (words: number[]): Uint8Array => {
  const b = new Uint8Array(16);
  words.forEach((w, i) => {
    b[2 * i] = w >> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
};

describe('IPv6 address strings', () => {
  it.each([
    ['fd00::2', 'fd00::2'],
    ['FD00:0:0:0:0:0:0:2', 'fd00::2'],
    ['2001:0db8::0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['::ffff:1.2.3.4', '::ffff:102:304'],
  ])('%s is spelled %s (RFC 5952)', (text, canonical) => {
    expect(canonicalIpv6(text)).toBe(canonical);
    expect(viaUrl(text)).toBe(canonical);
  });

  it.each(['', ':', ':::', '1::2::3', 'g::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7::8', '12345::', '::1.2.3', '1.2.3.4::', '::1%eth0', '[::1]', '10.0.0.1', ' ::1'])(
    'rejects %j',
    (bad) => {
      expect(() => parseIpv6Address(bad)).toThrow(RangeError);
    },
  );

  it('formats as URL does, and parses what it formats (property)', () => {
    fc.assert(
      fc.property(wordsArb, (words) => {
        const bytes = toBytes(words);
        const text = formatIpv6Address(bytes);
        expect(isIPv6(text)).toBe(true);
        expect(text).toBe(viaUrl(text));
        expect([...parseIpv6Address(text)]).toEqual([...bytes]);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with Node about what is an IPv6 address (property, zone ids aside)', () => {
    const chars = fc.constantFrom(...'0123456789abcdefABCDEF:.'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: chars, maxLength: 46 }), (text) => {
        let ours = true;
        try {
          parseIpv6Address(text);
        } catch {
          ours = false;
        }
        expect(ours).toBe(isIPv6(text));
      }),
      { numRuns: 5000 },
    );
  });
});
