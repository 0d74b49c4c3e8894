import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TCP_FLAGS, decodeIpv4Tcp, encodeRst, encodeSyn, encodeTcpSegment, type DecodedSegment } from '../../src/packet/index.js';
import { CAPTURED_LOOPBACK_SYN, CAPTURED_SYN, capturedSynSegmentWithCorrectChecksum, segmentSpecArb, wrapIpv4 } from './packet-fixtures.js';

function decodeOk(packet: Uint8Array, verifyChecksum = true): DecodedSegment {
  const result = decodeIpv4Tcp(packet, { verifyChecksum });
  if (!result.ok) throw new Error(`decode failed: ${result.reason}`);
  return result.segment;
}

describe('encodeSyn', () => {
  it('reproduces a real Linux SYN byte for byte, checksum included', () => {
    expect(encodeSyn(CAPTURED_SYN).toString('hex')).toBe(capturedSynSegmentWithCorrectChecksum().toString('hex'));
  });

  it('round-trips through an IPv4 header and decodeIpv4Tcp', () => {
    const spec = { srcAddr: '10.0.0.1', dstAddr: '192.168.200.7', srcPort: 40000, dstPort: 443, isn: 0xfedcba98, tsVal: 0x80000001, mss: 1460, wscale: 7, window: 64240 };
    const segment = encodeSyn(spec);
    expect(segment.length).toBe(40);
    expect(decodeOk(wrapIpv4(segment, spec.srcAddr, spec.dstAddr))).toEqual({
      srcAddr: spec.srcAddr,
      dstAddr: spec.dstAddr,
      srcPort: 40000,
      dstPort: 443,
      seq: 0xfedcba98,
      ack: 0,
      flags: TCP_FLAGS.SYN,
      window: 64240,
      options: { mss: 1460, sackPermitted: true, timestamp: { val: 0x80000001, ecr: 0 }, wscale: 7 },
      payloadLength: 0,
    });
  });

  it('never sets ECE or CWR', () => {
    expect(encodeSyn(CAPTURED_SYN)[13]).toBe(TCP_FLAGS.SYN);
  });
});

describe('encodeRst', () => {
  it('round-trips: RST only, ack 0, window 0, no options', () => {
    const spec = { srcAddr: '10.1.2.3', dstAddr: '10.3.2.1', srcPort: 55555, dstPort: 80, seq: 0xffffffff };
    const segment = encodeRst(spec);
    expect(segment.length).toBe(20);
    expect(decodeOk(wrapIpv4(segment, spec.srcAddr, spec.dstAddr))).toEqual({
      srcAddr: spec.srcAddr,
      dstAddr: spec.dstAddr,
      srcPort: 55555,
      dstPort: 80,
      seq: 0xffffffff,
      ack: 0,
      flags: TCP_FLAGS.RST,
      window: 0,
      options: {},
      payloadLength: 0,
    });
  });

  it('takes ISN + 1 modulo 2^32', () => {
    const segment = encodeRst({ srcAddr: '1.1.1.1', dstAddr: '2.2.2.2', srcPort: 1, dstPort: 2, seq: 0xffffffff + 1 });
    expect(segment.readUInt32BE(4)).toBe(0);
  });
});

describe('encodeTcpSegment', () => {
  it('round-trips a segment with payload and options', () => {
    const payload = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const spec = {
      srcAddr: '172.16.0.9',
      dstAddr: '172.16.0.10',
      srcPort: 1,
      dstPort: 65535,
      seq: 123456789,
      ack: 987654321,
      flags: TCP_FLAGS.ACK | TCP_FLAGS.PSH,
      window: 502,
      options: { timestamp: { val: 7, ecr: 8 } },
      payload,
    };
    const segment = encodeTcpSegment(spec);
    expect(segment.subarray(segment.length - payload.length).equals(payload)).toBe(true);
    const { payloadLength, ...fields } = decodeOk(wrapIpv4(segment, spec.srcAddr, spec.dstAddr));
    expect(payloadLength).toBe(payload.length);
    expect(fields).toEqual({ ...spec, payload: undefined });
  });

  it('applies >>> 0 to seq and ack', () => {
    const segment = encodeTcpSegment({ srcAddr: '1.2.3.4', dstAddr: '5.6.7.8', srcPort: 1, dstPort: 2, seq: -1, ack: 2 ** 32 + 3, flags: TCP_FLAGS.ACK, window: 0 });
    expect(decodeOk(wrapIpv4(segment, '1.2.3.4', '5.6.7.8'))).toMatchObject({ seq: 0xffffffff, ack: 3 });
  });

  it.each([
    ['srcPort', { srcPort: 65536 }],
    ['dstPort', { dstPort: -1 }],
    ['window', { window: 70000 }],
    ['flags', { flags: 0x100 }],
    ['srcAddr', { srcAddr: '1.2.3' }],
    ['payload size', { payload: new Uint8Array(65535 - 40 + 1) }],
  ])('throws RangeError for an out-of-range %s', (_name, override) => {
    const base = { srcAddr: '1.2.3.4', dstAddr: '5.6.7.8', srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0 };
    expect(() => encodeTcpSegment({ ...base, ...override })).toThrow(RangeError);
  });

  it('round-trips any valid SegmentSpec (property)', () => {
    fc.assert(
      fc.property(segmentSpecArb, (spec) => {
        const segment = encodeTcpSegment(spec);
        expect(decodeOk(wrapIpv4(segment, spec.srcAddr, spec.dstAddr))).toEqual({
          srcAddr: spec.srcAddr,
          dstAddr: spec.dstAddr,
          srcPort: spec.srcPort,
          dstPort: spec.dstPort,
          seq: spec.seq,
          ack: spec.ack,
          flags: spec.flags,
          window: spec.window,
          options: spec.options ?? {},
          payloadLength: spec.payload?.length ?? 0,
        });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('decodeIpv4Tcp on the captured SYN', () => {
  it('decodes it with verification off, as on a veth or loopback link', () => {
    expect(decodeIpv4Tcp(CAPTURED_LOOPBACK_SYN)).toEqual({
      ok: true,
      segment: {
        srcAddr: '127.0.0.1',
        dstAddr: '127.0.0.1',
        srcPort: CAPTURED_SYN.srcPort,
        dstPort: CAPTURED_SYN.dstPort,
        seq: CAPTURED_SYN.isn,
        ack: 0,
        flags: TCP_FLAGS.SYN,
        window: CAPTURED_SYN.window,
        options: { mss: 65495, sackPermitted: true, timestamp: { val: CAPTURED_SYN.tsVal, ecr: 0 }, wscale: 10 },
        payloadLength: 0,
      },
    });
  });

  it('rejects its offloaded (partial) checksum when asked to verify', () => {
    expect(decodeIpv4Tcp(CAPTURED_LOOPBACK_SYN, { verifyChecksum: true })).toEqual({ ok: false, reason: 'bad-checksum' });
  });
});
