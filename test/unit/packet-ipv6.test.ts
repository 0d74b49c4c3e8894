import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBareTcp, encodeRst, encodeSyn, encodeTcpSegment, tcpChecksum, tcpChecksumIpv6, parseIpv6Address,
  type DecodeFailure, type DecodeResult,
} from '../../src/packet/index.js';

// Computed independently in python3 (socket.inet_pton, struct, an RFC 1071
// sum over the RFC 8200 §8.1 pseudo-header + the segment), not with this code:
//   ph = inet_pton(AF_INET6, src) + inet_pton(AF_INET6, dst) + pack('!IxxxB', len(tcp), 6)
const PY_SYN = '9c401f90deadbeef00000000a002faf0f5a80000020405a00402080a010203040000000001030307';
const PY_RST = '9c4101bbfffffffe00000000500400007d9b0000';
const PY_SYNACK = '1f909c4011223344deadbef0a012fe884c160000020405a00402080aa0b0c0d00102030401030309';

describe('TCP over IPv6: checksum and codec', () => {
  it('encodes a SYN byte for byte as the independent computation (checksum 0xf5a8)', () => {
    const syn = encodeSyn({
      srcAddr: 'fd00:1::1', dstAddr: 'fd00:1::2', srcPort: 40000, dstPort: 8080,
      isn: 0xdeadbeef, tsVal: 0x01020304, mss: 1440, wscale: 7, window: 64240,
    });
    expect(syn.toString('hex')).toBe(PY_SYN);
  });

  it('encodes a RST byte for byte as the independent computation (checksum 0x7d9b)', () => {
    const rst = encodeRst({ srcAddr: 'fd00:1::1', dstAddr: '2001:db8::8:800:200c:417a', srcPort: 40001, dstPort: 443, seq: 0xfffffffe });
    expect(rst.toString('hex')).toBe(PY_RST);
  });

  it('verifies a SYN-ACK from the independent computation, and reports its fields', () => {
    const bytes = Buffer.from(PY_SYNACK, 'hex');
    expect(tcpChecksum('fd00:1::2', 'fd00:1::1', bytes)).toBe(0);
    const r = decodeBareTcp(bytes, { srcAddr: 'fd00:1:0::2', dstAddr: 'fd00:1::1' }, { verifyChecksum: true });
    expect(r).toEqual({
      ok: true,
      segment: {
        srcAddr: 'fd00:1::2', dstAddr: 'fd00:1::1', srcPort: 8080, dstPort: 40000, seq: 0x11223344, ack: 0xdeadbef0,
        flags: 0x12, window: 65160, payloadLength: 0,
        options: { mss: 1440, sackPermitted: true, timestamp: { val: 0xa0b0c0d0, ecr: 0x01020304 }, wscale: 9 },
      },
    });
  });

  it('without our address (the IPv6 raw socket does not report it) decodes, dstAddr empty, no verification', () => {
    const r = decodeBareTcp(Buffer.from(PY_SYNACK, 'hex'), { srcAddr: 'fd00:1::2' }, { verifyChecksum: true });
    expect(r.ok && r.segment.dstAddr).toBe('');
  });

  it('rejects a flipped bit when verifying, and an address that is not IPv6', () => {
    const bytes = Buffer.from(PY_SYNACK, 'hex');
    bytes[5]! ^= 1;
    expect(decodeBareTcp(bytes, { srcAddr: 'fd00:1::2', dstAddr: 'fd00:1::1' }, { verifyChecksum: true })).toEqual({ ok: false, reason: 'bad-checksum' });
    expect(decodeBareTcp(bytes, { srcAddr: '10.0.0.2' })).toEqual({ ok: false, reason: 'bad-address' });
    expect(decodeBareTcp(bytes, { srcAddr: '' })).toEqual({ ok: false, reason: 'bad-address' });
  });

  it('refuses to mix families in one pseudo-header', () => {
    expect(() => tcpChecksum('10.0.0.1', 'fd00::1', new Uint8Array(20))).toThrow(RangeError);
  });

  it('round-trips random segments: encode, verify to 0, decode the same fields (property)', () => {
    const addrArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
      b[0] = 0xfd; // keep clear of the v4-mapped and unspecified forms (they are still IPv6 text, but less realistic)
      return b;
    });
    fc.assert(
      fc.property(addrArb, addrArb, fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffffffff), fc.nat(0xffffffff), fc.nat(0xff), fc.nat(0xffff), fc.uint8Array({ maxLength: 40 }),
        (src, dst, sp, dp, seq, ack, flags, win, payload) => {
          const a = (b: Uint8Array) => new URL(`http://[${[...Array(8).keys()].map((i) => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16)).join(':')}]/`).hostname.slice(1, -1);
          const srcAddr = a(src);
          const dstAddr = a(dst);
          const seg = encodeTcpSegment({ srcAddr, dstAddr, srcPort: sp, dstPort: dp, seq, ack, flags, window: win, payload });
          expect(tcpChecksumIpv6(parseIpv6Address(srcAddr), parseIpv6Address(dstAddr), seg)).toBe(0);
          const r = decodeBareTcp(seg, { srcAddr, dstAddr }, { verifyChecksum: true });
          expect(r.ok).toBe(true);
          if (r.ok) expect(r.segment).toMatchObject({ srcAddr, dstAddr, srcPort: sp, dstPort: dp, seq, ack, flags, window: win, payloadLength: payload.length });
        }),
      { numRuns: 1000 },
    );
  });
});

const REASONS = new Set<DecodeFailure>(['truncated-tcp', 'bad-data-offset', 'bad-option', 'bad-checksum', 'bad-address']);
const isUint = (v: unknown, bits: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** bits;

function assertWellTyped(segment: Uint8Array, srcAddr: string, dstAddr?: string): void {
  for (const verifyChecksum of [false, true]) {
    const result: DecodeResult = decodeBareTcp(segment, dstAddr === undefined ? { srcAddr } : { srcAddr, dstAddr }, { verifyChecksum });
    if (!result.ok) {
      expect(REASONS.has(result.reason)).toBe(true);
      continue;
    }
    const s = result.segment;
    expect(isUint(s.srcPort, 16) && isUint(s.dstPort, 16) && isUint(s.window, 16)).toBe(true);
    expect(isUint(s.seq, 32) && isUint(s.ack, 32) && isUint(s.flags, 8)).toBe(true);
    expect(s.payloadLength).toBeGreaterThanOrEqual(0);
    expect(s.payloadLength).toBeLessThanOrEqual(segment.length - 20);
    if (s.options.mss !== undefined) expect(isUint(s.options.mss, 16)).toBe(true);
    if (s.options.wscale !== undefined) expect(isUint(s.options.wscale, 8)).toBe(true);
  }
}

describe('decodeBareTcp on hostile input', () => {
  const RUNS = { numRuns: 3000 };
  const validArb = fc.record({ sp: fc.nat(0xffff), seq: fc.nat(0xffffffff), ts: fc.nat(0xffffffff), mss: fc.nat(0xffff), ws: fc.nat(14) }).map((r) =>
    encodeSyn({ srcAddr: 'fd00:1::2', dstAddr: 'fd00:1::1', srcPort: r.sp, dstPort: 1, isn: r.seq, tsVal: r.ts, mss: r.mss, wscale: r.ws, window: 1 }),
  );

  it('never throws on arbitrary bytes, with or without our address', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120, size: 'max' }), fc.boolean(), (bytes, withDst) => assertWellTyped(bytes, 'fd00:1::2', withDst ? 'fd00:1::1' : undefined)), RUNS);
  });

  it('never throws on arbitrary source strings (what recvfrom said)', () => {
    fc.assert(fc.property(validArb, fc.string({ maxLength: 60 }), (seg, src) => assertWellTyped(seg, src)), RUNS);
  });

  it('never throws on valid segments with flipped bytes, and rejects every truncation below the header', () => {
    fc.assert(
      fc.property(validArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), (seg, flips, cut) => {
        const flipped = Buffer.from(seg);
        for (const [at, mask] of flips) flipped[at % flipped.length]! ^= mask;
        assertWellTyped(flipped, 'fd00:1::2', 'fd00:1::1');
        const truncated = seg.subarray(0, cut % (seg.length + 1));
        assertWellTyped(truncated, 'fd00:1::2', 'fd00:1::1');
        if (truncated.length < (seg[12]! >> 4) * 4) expect(decodeBareTcp(truncated, { srcAddr: 'fd00:1::2' }).ok).toBe(false);
      }),
      RUNS,
    );
  });

  it('never throws when the data offset and option bytes are fuzzed', () => {
    fc.assert(
      fc.property(validArb, fc.nat(15), fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 2, 3, 4, 8, 10, 0xff, 40)), { maxLength: 4 }), (seg, doff, edits) => {
        const b = Buffer.from(seg);
        b[12] = (doff << 4) | (b[12]! & 0x0f);
        for (const [at, value] of edits) b[20 + (at % (b.length - 20))] = value;
        assertWellTyped(b, 'fd00:1::2');
      }),
      RUNS,
    );
  });
});
