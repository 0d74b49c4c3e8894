import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTcpOptions, encodeTcpOptions, type TcpOptions } from '../../src/packet/index.js';
import { tcpOptionsArb } from './packet-fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('encodeTcpOptions', () => {
  it('lays out a full SYN option set exactly as Linux: MSS, SACK_PERM, TS, NOP, WSCALE', () => {
    const bytes = encodeTcpOptions({ mss: 1460, sackPermitted: true, timestamp: { val: 0x01020304, ecr: 0 }, wscale: 7 });
    expect(hex(bytes)).toBe('020405b4' + '0402080a0102030400000000' + '01030307');
  });

  it.each<[string, TcpOptions, string]>([
    ['nothing', {}, ''],
    ['MSS alone', { mss: 536 }, '02040218'],
    ['timestamps without SACK', { timestamp: { val: 1, ecr: 2 } }, '0101080a0000000100000002'],
    ['SACK without timestamps', { sackPermitted: true }, '01010402'],
    ['window scale alone', { wscale: 14 }, '0103030e'],
    ['sackPermitted false is omitted', { sackPermitted: false, mss: 1 }, '02040001'],
  ])('%s', (_name, options, expected) => {
    const bytes = encodeTcpOptions(options);
    expect(hex(bytes)).toBe(expected);
    expect(bytes.length % 4).toBe(0);
  });

  it('takes timestamps modulo 2^32', () => {
    const bytes = encodeTcpOptions({ timestamp: { val: 2 ** 32 + 5, ecr: -1 } });
    expect(decodeTcpOptions(bytes)).toEqual({ ok: true, options: { timestamp: { val: 5, ecr: 0xffffffff } } });
  });

  it.each<[string, TcpOptions]>([
    ['mss above 65535', { mss: 65536 }],
    ['negative mss', { mss: -1 }],
    ['fractional mss', { mss: 1.5 }],
    ['wscale above 14', { wscale: 15 }],
    ['negative wscale', { wscale: -1 }],
  ])('throws RangeError for %s', (_name, options) => {
    expect(() => encodeTcpOptions(options)).toThrow(RangeError);
  });

  it('round-trips any option subset through decodeTcpOptions, always 4-byte aligned (property)', () => {
    fc.assert(
      fc.property(tcpOptionsArb, (options) => {
        const bytes = encodeTcpOptions(options);
        expect(bytes.length % 4).toBe(0);
        expect(bytes.length).toBeLessThanOrEqual(40);
        expect(decodeTcpOptions(bytes)).toEqual({ ok: true, options });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeTcpOptions', () => {
  const decode = (h: string) => decodeTcpOptions(Buffer.from(h, 'hex'));

  it('decodes an empty area', () => {
    expect(decode('')).toEqual({ ok: true, options: {} });
  });

  it('stops at EOL and ignores whatever follows', () => {
    expect(decode('02040218' + '00' + 'ffff0302')).toEqual({ ok: true, options: { mss: 536 } });
  });

  it('skips NOPs one byte at a time', () => {
    expect(decode('010101' + '030308' + '0101')).toEqual({ ok: true, options: { wscale: 8 } });
  });

  it('skips unknown kinds with a valid length (SACK block, TFO cookie)', () => {
    expect(decode('0101050a0000000100000002' + '22060102' + '0304' + '0402')).toEqual({ ok: true, options: { sackPermitted: true } });
  });

  it('reads values as unsigned', () => {
    expect(decode('0204ffff' + '0303ff' + '080affffffff80000000')).toEqual({
      ok: true,
      options: { mss: 0xffff, wscale: 0xff, timestamp: { val: 0xffffffff, ecr: 0x80000000 } },
    });
  });

  it('lets the last duplicate win, as Linux does', () => {
    expect(decode('02040100' + '02040200')).toEqual({ ok: true, options: { mss: 0x200 } });
  });

  it.each([
    ['length 0', '0500'],
    ['length 1', '0501'],
    ['missing length byte', '010105'],
    ['length running past the area', '050a000000'],
    ['MSS of length 3', '020305'],
    ['MSS of length 6', '020600000000'],
    ['window scale of length 4', '03040700'],
    ['SACK_PERM of length 3', '040300'],
    ['timestamps of length 8', '0808000000000000'],
    ['timestamps cut short', '080a0000'],
  ])('rejects %s as bad-option', (_name, h) => {
    expect(decode(h)).toEqual({ ok: false, reason: 'bad-option' });
  });

  it('never throws on arbitrary bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => {
        const result = decodeTcpOptions(bytes);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 5000 },
    );
  });
});
