import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { internetChecksum, tcpChecksum, tcpChecksumIpv4, parseIpv4Address } from '../../src/packet/index.js';
import { CAPTURED_LOOPBACK_SYN, CAPTURED_SYN_CORRECT_CHECKSUM, capturedSynSegmentWithCorrectChecksum } from './packet-fixtures.js';

// Straightforward reference: pad the concatenation, sum words, fold.
function referenceChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

describe('internetChecksum', () => {
  it('matches the worked example of RFC 1071 §3', () => {
    // 00 01 f2 03 f4 f5 f6 f7 sums to ddf2; the checksum is its complement.
    expect(internetChecksum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]))).toBe(0x220d);
  });

  it('gives 0xffff for no bytes and for all zeros (the sum is 0)', () => {
    expect(internetChecksum()).toBe(0xffff);
    expect(internetChecksum(new Uint8Array(0))).toBe(0xffff);
    expect(internetChecksum(new Uint8Array(7))).toBe(0xffff);
  });

  it('pads an odd trailing byte with a zero low byte', () => {
    expect(internetChecksum(Uint8Array.from([0xab]))).toBe(~0xab00 & 0xffff);
    expect(internetChecksum(Uint8Array.from([0x12, 0x34, 0x56]))).toBe(~(0x1234 + 0x5600) & 0xffff);
  });

  it('carries end-around: 0xffff + 0x0001 folds to 0x0001', () => {
    expect(internetChecksum(Uint8Array.from([0xff, 0xff, 0x00, 0x01]))).toBe(0xfffe);
  });

  it('pairs bytes across parts of odd length', () => {
    const whole = Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0x9a]);
    expect(internetChecksum(whole.subarray(0, 1), whole.subarray(1, 4), whole.subarray(4))).toBe(internetChecksum(whole));
    expect(internetChecksum(whole.subarray(0, 3), new Uint8Array(0), whole.subarray(3))).toBe(internetChecksum(whole));
  });

  it('equals a reference implementation (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        expect(internetChecksum(bytes)).toBe(referenceChecksum(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('is the same however the bytes are split into parts (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(300), { maxLength: 8 }), (bytes, cuts) => {
        const bounds = [0, ...cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b), bytes.length];
        const parts = bounds.slice(1).map((end, i) => bytes.subarray(bounds[i]!, end));
        expect(internetChecksum(...parts)).toBe(internetChecksum(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('folds to 0 over data that includes its own checksum (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 2, maxLength: 500 }).map((b) => (b.length % 2 === 0 ? b : b.subarray(1))), (bytes) => {
        const withField = Buffer.concat([bytes, Buffer.alloc(2)]);
        withField.writeUInt16BE(internetChecksum(withField), bytes.length);
        expect(internetChecksum(withField)).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('tcpChecksum', () => {
  const segment = CAPTURED_LOOPBACK_SYN.subarray(20);

  it('computes the checksum tcpdump reports for a real Linux SYN', () => {
    const zeroed = Buffer.from(segment);
    zeroed.writeUInt16BE(0, 16);
    expect(tcpChecksum('127.0.0.1', '127.0.0.1', zeroed)).toBe(CAPTURED_SYN_CORRECT_CHECKSUM);
  });

  it('verifies to 0 over a segment carrying its correct checksum', () => {
    expect(tcpChecksum('127.0.0.1', '127.0.0.1', capturedSynSegmentWithCorrectChecksum())).toBe(0);
  });

  it('shows why verification is off by default: the offloaded field does not verify', () => {
    expect(tcpChecksum('127.0.0.1', '127.0.0.1', segment)).not.toBe(0);
  });

  it('depends on the pseudo-header addresses', () => {
    expect(tcpChecksum('127.0.0.2', '127.0.0.1', capturedSynSegmentWithCorrectChecksum())).not.toBe(0);
  });

  it('agrees with the numeric-address form over a sub-range', () => {
    const src = parseIpv4Address('127.0.0.1');
    expect(tcpChecksumIpv4(src, src, CAPTURED_LOOPBACK_SYN, 20, CAPTURED_LOOPBACK_SYN.length)).toBe(
      tcpChecksum('127.0.0.1', '127.0.0.1', segment),
    );
  });

  it('handles high addresses (above 2^31) in the pseudo-header', () => {
    const seg = Buffer.from(segment);
    seg.writeUInt16BE(0, 16);
    const pseudo = Buffer.from([255, 254, 253, 252, 200, 1, 2, 3, 0, 6, 0, seg.length]);
    expect(tcpChecksum('255.254.253.252', '200.1.2.3', seg)).toBe(internetChecksum(pseudo, seg));
  });

  it('throws RangeError on an address that is not a dotted quad', () => {
    expect(() => tcpChecksum('localhost', '127.0.0.1', segment)).toThrow(RangeError);
  });
});
