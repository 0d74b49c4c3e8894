import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIpv4Address, parseIpv4Address } from '../../src/packet/index.js';

describe('IPv4 address strings', () => {
  it('parses dotted quads as unsigned 32-bit values', () => {
    expect(parseIpv4Address('0.0.0.0')).toBe(0);
    expect(parseIpv4Address('127.0.0.1')).toBe(0x7f000001);
    expect(parseIpv4Address('255.255.255.255')).toBe(0xffffffff);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '::1', '1.2.3.0x4'])(
    'rejects %j',
    (bad) => {
      expect(() => parseIpv4Address(bad)).toThrow(RangeError);
    },
  );

  it('formats what it parses (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
        const text = formatIpv4Address(bytes, 0);
        expect(parseIpv4Address(text)).toBe(Buffer.from(bytes).readUInt32BE(0));
      }),
      { numRuns: 2000 },
    );
  });
});
