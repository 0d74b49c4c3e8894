import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeIpv4Tcp, type DecodeFailure, type DecodeResult } from '../../src/packet/index.js';
import { validPacketArb } from './packet-fixtures.js';

const REASONS = new Set<DecodeFailure>([
  'truncated-ip', 'not-ipv4', 'bad-ihl', 'bad-total-length', 'not-tcp', 'fragment', 'truncated-tcp', 'bad-data-offset', 'bad-option', 'bad-checksum',
]);
const RUNS = { numRuns: 3000 };

const isUint = (v: unknown, bits: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** bits;

/** Decodes with and without verification; both must return a well-typed result, never throw. */
function assertWellTyped(packet: Uint8Array): void {
  for (const verifyChecksum of [false, true]) {
    const result: DecodeResult = decodeIpv4Tcp(packet, { verifyChecksum });
    if (!result.ok) {
      expect(REASONS.has(result.reason)).toBe(true);
      continue;
    }
    const s = result.segment;
    expect(s.srcAddr).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
    expect(s.dstAddr).toMatch(/^\d{1,3}(\.\d{1,3}){3}$/);
    expect(isUint(s.srcPort, 16) && isUint(s.dstPort, 16) && isUint(s.window, 16)).toBe(true);
    expect(isUint(s.seq, 32) && isUint(s.ack, 32) && isUint(s.flags, 8)).toBe(true);
    expect(isUint(s.payloadLength, 16)).toBe(true);
    expect(s.payloadLength).toBeLessThanOrEqual(packet.length - 40);
    const o = s.options;
    if (o.mss !== undefined) expect(isUint(o.mss, 16)).toBe(true);
    if (o.wscale !== undefined) expect(isUint(o.wscale, 8)).toBe(true);
    if (o.sackPermitted !== undefined) expect(o.sackPermitted).toBe(true);
    if (o.timestamp !== undefined) expect(isUint(o.timestamp.val, 32) && isUint(o.timestamp.ecr, 32)).toBe(true);
  }
}

/**
 * Random bytes behind a header that mostly says "IPv4, TCP, not a fragment,
 * total length = buffer": uniform random bytes almost never get past the
 * version check, so this is what drives the fuzzing into the TCP header and
 * option parser. `size: 'max'` because fast-check otherwise keeps arrays tiny.
 */
const plausibleHeaderArb = fc
  .record({
    bytes: fc.uint8Array({ minLength: 20, maxLength: 100, size: 'max' }),
    ihl: fc.oneof({ weight: 4, arbitrary: fc.constant(5) }, { weight: 1, arbitrary: fc.nat(15) }),
    totalLength: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(0xffff) }),
    dataOffset: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 5, max: 8 }) }, { weight: 1, arbitrary: fc.nat(15) }),
  })
  .map(({ bytes, ihl, totalLength, dataOffset }) => {
    const b = Buffer.from(bytes);
    b[0] = 0x40 | ihl;
    b.writeUInt16BE(totalLength ?? b.length, 2);
    b[6] = b[6]! & 0x40; // DF only: MF or an offset would stop every case at 'fragment'
    b[7] = 0;
    b[9] = 6;
    const tcp = ihl * 4;
    if (tcp + 12 < b.length) b[tcp + 12] = dataOffset << 4;
    return b;
  });

describe('decodeIpv4Tcp on hostile input', () => {
  it('never throws on arbitrary bytes', () => {
    const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 30 }), fc.uint8Array({ maxLength: 200, size: 'max' }));
    fc.assert(fc.property(bytesArb, (bytes) => assertWellTyped(bytes)), RUNS);
  });

  it('never throws on arbitrary bytes shaped like IPv4/TCP, and reaches every stage of the decoder', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(plausibleHeaderArb, (bytes) => {
        assertWellTyped(bytes);
        const result = decodeIpv4Tcp(bytes);
        seen.add(result.ok ? 'ok' : result.reason);
      }),
      RUNS,
    );
    // Guards the generator: if it degenerated, the property above would prove little.
    for (const stage of ['ok', 'bad-option', 'bad-data-offset', 'truncated-tcp', 'bad-total-length', 'bad-ihl']) expect(seen).toContain(stage);
  });

  it('never throws on valid packets with random byte flips', () => {
    fc.assert(
      fc.property(validPacketArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), (packet, flips) => {
        for (const [at, mask] of flips) packet[at % packet.length]! ^= mask;
        assertWellTyped(packet);
      }),
      RUNS,
    );
  });

  it('never throws on truncated valid packets', () => {
    fc.assert(
      fc.property(validPacketArb, fc.nat(), (packet, cut) => {
        const truncated = packet.subarray(0, cut % (packet.length + 1));
        assertWellTyped(truncated);
        if (truncated.length < packet.length) expect(decodeIpv4Tcp(truncated).ok).toBe(false);
      }),
      RUNS,
    );
  });

  it('never throws when IHL, total length or data offset are fuzzed', () => {
    fc.assert(
      fc.property(validPacketArb, fc.nat(15), fc.nat(0xffff), fc.nat(15), fc.boolean(), fc.boolean(), fc.boolean(), (packet, ihl, total, doff, setIhl, setTotal, setDoff) => {
        if (setIhl) packet[0] = 0x40 | ihl;
        if (setTotal) packet.writeUInt16BE(total, 2);
        if (setDoff) packet[32] = (doff << 4) | (packet[32]! & 0x0f);
        assertWellTyped(packet);
      }),
      RUNS,
    );
  });

  it('never throws when option bytes (kinds and lengths) are fuzzed', () => {
    fc.assert(
      fc.property(
        validPacketArb.filter((p) => p[32]! >> 4 > 5),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 1, 2, 3, 4, 8, 10, 0xff, 40)), { minLength: 1, maxLength: 4 }),
        (packet, edits) => {
          const optionsLength = (packet[32]! >> 4) * 4 - 20;
          for (const [at, value] of edits) packet[40 + (at % optionsLength)] = value;
          assertWellTyped(packet);
        },
      ),
      RUNS,
    );
  });

  it('accepts every unmutated valid packet, even with trailing bytes past the total length', () => {
    fc.assert(
      fc.property(validPacketArb, fc.uint8Array({ maxLength: 16 }), (packet, trailer) => {
        const expected = decodeIpv4Tcp(packet, { verifyChecksum: true });
        expect(expected.ok).toBe(true);
        expect(decodeIpv4Tcp(Buffer.concat([packet, trailer]), { verifyChecksum: true })).toEqual(expected);
      }),
      RUNS,
    );
  });
});
