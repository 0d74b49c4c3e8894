// Shared by the packet-*.test.ts files: hand-built IPv4 framing, a real capture, arbitraries.

import fc from 'fast-check';
import { encodeTcpSegment, type SegmentSpec, type TcpOptions } from '../../src/packet/index.js';

/** Wraps a TCP segment in a 20-byte IPv4 header, as a raw socket's recvfrom returns it. */
export function wrapIpv4(
  segment: Uint8Array,
  src: string,
  dst: string,
  overrides: { totalLength?: number; protocol?: number; fragment?: number; versionIhl?: number } = {},
): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = overrides.versionIhl ?? 0x45;
  ip.writeUInt16BE(overrides.totalLength ?? 20 + segment.length, 2);
  ip.writeUInt16BE(0x1234, 4);
  ip.writeUInt16BE(overrides.fragment ?? 0x4000, 6); // DF, as Linux sends
  ip[8] = 64;
  ip[9] = overrides.protocol ?? 6;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  return Buffer.concat([ip, segment]);
}

/**
 * A SYN from Linux 6.18 (net.connect to 127.0.0.1:47931), captured with
 * `tcpdump -i lo -w`. Its checksum field holds 0xfe30, the pseudo-header sum
 * left for offload (CHECKSUM_PARTIAL); `tcpdump -vv` reports the correct
 * value as 0x2901.
 */
export const CAPTURED_LOOPBACK_SYN = Buffer.from(
  '4500003c6dd140004006cee87f0000017f000001' +
    'c22cbb3b4f74dd3c00000000a002ffd7fe300000' +
    '0204ffd70402080acc60b083000000000103030a',
  'hex',
);
export const CAPTURED_SYN_CORRECT_CHECKSUM = 0x2901;
export const CAPTURED_SYN = {
  srcAddr: '127.0.0.1',
  dstAddr: '127.0.0.1',
  srcPort: 0xc22c,
  dstPort: 47931,
  isn: 1333058876,
  tsVal: 3428888707,
  mss: 65495,
  wscale: 10,
  window: 65495,
} as const;

/** The TCP segment of the capture with its checksum field corrected. */
export function capturedSynSegmentWithCorrectChecksum(): Buffer {
  const seg = Buffer.from(CAPTURED_LOOPBACK_SYN.subarray(20));
  seg.writeUInt16BE(CAPTURED_SYN_CORRECT_CHECKSUM, 16);
  return seg;
}

/** Any option subset we are allowed to send. */
export const tcpOptionsArb: fc.Arbitrary<TcpOptions> = fc.record(
  {
    mss: fc.integer({ min: 0, max: 0xffff }),
    wscale: fc.integer({ min: 0, max: 14 }),
    sackPermitted: fc.constant(true),
    timestamp: fc.record({ val: fc.nat({ max: 0xffffffff }), ecr: fc.nat({ max: 0xffffffff }) }),
  },
  { requiredKeys: [] },
);

const ipv4Arb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));

/** Any segment encodeTcpSegment must accept. */
export const segmentSpecArb: fc.Arbitrary<SegmentSpec> = fc.record(
  {
    srcAddr: ipv4Arb,
    dstAddr: ipv4Arb,
    srcPort: fc.integer({ min: 1, max: 0xffff }),
    dstPort: fc.integer({ min: 1, max: 0xffff }),
    seq: fc.nat({ max: 0xffffffff }),
    ack: fc.nat({ max: 0xffffffff }),
    flags: fc.nat(0xff),
    window: fc.nat(0xffff),
    options: tcpOptionsArb,
    payload: fc.uint8Array({ maxLength: 64 }),
  },
  { requiredKeys: ['srcAddr', 'dstAddr', 'srcPort', 'dstPort', 'seq', 'ack', 'flags', 'window'] },
);

/** A valid IPv4+TCP packet built from an arbitrary spec, for mutation tests. */
export const validPacketArb: fc.Arbitrary<Buffer> = segmentSpecArb.map((spec) =>
  wrapIpv4(encodeTcpSegment(spec), spec.srcAddr, spec.dstAddr),
);
