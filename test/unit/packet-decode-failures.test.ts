import { describe, expect, it } from 'vitest';
import { TCP_FLAGS, decodeIpv4Tcp, encodeTcpSegment, tcpChecksum, type DecodeFailure } from '../../src/packet/index.js';
import { wrapIpv4 } from './packet-fixtures.js';

const SRC = '192.0.2.1';
const DST = '198.51.100.2';

function segment(extra: { options?: Parameters<typeof encodeTcpSegment>[0]['options']; payload?: Uint8Array } = {}): Buffer {
  return encodeTcpSegment({ srcAddr: SRC, dstAddr: DST, srcPort: 443, dstPort: 40000, seq: 1, ack: 2, flags: TCP_FLAGS.SYN | TCP_FLAGS.ACK, window: 65535, ...extra });
}

function packet(seg = segment(), overrides: Parameters<typeof wrapIpv4>[3] = {}): Buffer {
  return wrapIpv4(seg, SRC, DST, overrides);
}

/** A segment with a hand-written options area (its checksum recomputed so only the options are wrong). */
function withRawOptions(optionsHex: string): Buffer {
  const options = Buffer.from(optionsHex, 'hex');
  const seg = Buffer.concat([segment().subarray(0, 20), options]);
  seg[12] = (seg.length / 4) << 4;
  seg.writeUInt16BE(0, 16);
  seg.writeUInt16BE(tcpChecksum(SRC, DST, seg), 16);
  return seg;
}

const cases: Array<[DecodeFailure, string, () => Uint8Array]> = [
  ['truncated-ip', 'an empty buffer', () => new Uint8Array(0)],
  ['truncated-ip', '19 bytes', () => packet().subarray(0, 19)],
  ['truncated-ip', 'IHL 15 (60 bytes) in a 40-byte buffer', () => packet(segment(), { versionIhl: 0x4f }).subarray(0, 40)],
  ['not-ipv4', 'version 6', () => packet(segment(), { versionIhl: 0x65 })],
  ['not-ipv4', 'version 0', () => new Uint8Array(20)],
  ['bad-ihl', 'IHL 4', () => packet(segment(), { versionIhl: 0x44 })],
  ['bad-ihl', 'IHL 0', () => packet(segment(), { versionIhl: 0x40 })],
  ['bad-total-length', 'total length past the buffer', () => packet(segment(), { totalLength: 41 })],
  ['bad-total-length', 'total length 65535 on a small buffer', () => packet(segment(), { totalLength: 0xffff })],
  ['bad-total-length', 'total length smaller than the IP header', () => packet(segment(), { totalLength: 19 })],
  ['not-tcp', 'protocol 17 (UDP)', () => packet(segment(), { protocol: 17 })],
  ['fragment', 'a non-first fragment', () => packet(segment(), { fragment: 0x0001 })],
  ['fragment', 'a first fragment with MF set', () => packet(segment(), { fragment: 0x2000 })],
  ['truncated-tcp', 'a 19-byte TCP segment', () => packet(segment().subarray(0, 19))],
  ['truncated-tcp', 'total length cutting the TCP header', () => packet(segment(), { totalLength: 39 })],
  ['truncated-tcp', 'no TCP segment at all', () => packet(Buffer.alloc(0))],
  ['bad-data-offset', 'data offset 4', () => { const s = segment(); s[12] = 0x40; return packet(s); }],
  ['bad-data-offset', 'data offset 0', () => { const s = segment(); s[12] = 0x00; return packet(s); }],
  ['bad-data-offset', 'data offset 15 on a 20-byte segment', () => { const s = segment(); s[12] = 0xf0; return packet(s); }],
  ['bad-data-offset', 'data offset past the IP total length', () => packet(segment({ options: { mss: 1460 } }), { totalLength: 40 + 3 })],
  ['bad-option', 'option length 0', () => packet(withRawOptions('05000000'))],
  ['bad-option', 'option length 1', () => packet(withRawOptions('05010000'))],
  ['bad-option', 'option running past the header', () => packet(withRawOptions('01010508'))],
  ['bad-option', 'kind with no room for its length', () => packet(withRawOptions('01010105'))],
  ['bad-option', 'MSS of length 3', () => packet(withRawOptions('02030501'))],
  ['bad-option', 'window scale of length 2', () => packet(withRawOptions('03020101'))],
  ['bad-option', 'SACK_PERM of length 4', () => packet(withRawOptions('04040000'))],
  ['bad-option', 'timestamps of length 12', () => packet(withRawOptions('080c00000000000000000000'))],
  ['bad-checksum', 'a flipped payload byte', () => { const p = packet(segment({ payload: Buffer.from('hello') })); p[p.length - 1]! ^= 0x01; return p; }],
];

describe('decodeIpv4Tcp failures', () => {
  it.each(cases)('%s: %s', (reason, _name, build) => {
    expect(decodeIpv4Tcp(build(), { verifyChecksum: true })).toEqual({ ok: false, reason });
  });

  it('names every DecodeFailure in at least one case', () => {
    const all: DecodeFailure[] = ['truncated-ip', 'not-ipv4', 'bad-ihl', 'bad-total-length', 'not-tcp', 'fragment', 'truncated-tcp', 'bad-data-offset', 'bad-option', 'bad-checksum'];
    expect(new Set(cases.map(([reason]) => reason))).toEqual(new Set(all));
  });
});

describe('decodeIpv4Tcp checksum verification', () => {
  const good = () => packet(segment({ options: { mss: 1400, sackPermitted: true }, payload: Buffer.from('abc') }));

  it('accepts a correct packet', () => {
    expect(decodeIpv4Tcp(good(), { verifyChecksum: true })).toMatchObject({ ok: true, segment: { payloadLength: 3, options: { mss: 1400, sackPermitted: true } } });
  });

  it('rejects any single flipped bit in the TCP segment with bad-checksum', () => {
    const base = good();
    for (let byte = 20; byte < base.length; byte++) {
      // Skip bits that make the header itself unparseable before the checksum is reached.
      if (byte === 20 + 12) continue;
      for (let bit = 0; bit < 8; bit++) {
        const p = Buffer.from(base);
        p[byte]! ^= 1 << bit;
        expect(decodeIpv4Tcp(p, { verifyChecksum: true })).toEqual({ ok: false, reason: 'bad-checksum' });
      }
    }
  });

  it('rejects a changed pseudo-header address', () => {
    const p = good();
    p[15]! ^= 0x01;
    expect(decodeIpv4Tcp(p, { verifyChecksum: true })).toEqual({ ok: false, reason: 'bad-checksum' });
  });

  it('does not verify by default', () => {
    const p = good();
    p[p.length - 1]! ^= 0xff;
    expect(decodeIpv4Tcp(p)).toMatchObject({ ok: true });
    expect(decodeIpv4Tcp(p, {})).toMatchObject({ ok: true });
    expect(decodeIpv4Tcp(p, { verifyChecksum: false })).toMatchObject({ ok: true });
  });
});

describe('decodeIpv4Tcp framing', () => {
  it('skips IP options using IHL', () => {
    const seg = segment({ payload: Buffer.from('xy') });
    const plain = packet(seg);
    const ipOptions = Buffer.from([0x01, 0x01, 0x01, 0x00]); // NOP NOP NOP EOL
    const withOptions = Buffer.concat([plain.subarray(0, 20), ipOptions, seg]);
    withOptions[0] = 0x46;
    withOptions.writeUInt16BE(withOptions.length, 2);
    const a = decodeIpv4Tcp(plain, { verifyChecksum: true });
    expect(a.ok).toBe(true);
    expect(decodeIpv4Tcp(withOptions, { verifyChecksum: true })).toEqual(a);
  });

  it('uses the IP total length, not the buffer length, for the payload end', () => {
    const p = packet(segment({ payload: Buffer.from('data') }));
    const padded = Buffer.concat([p, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x00])]);
    expect(decodeIpv4Tcp(padded, { verifyChecksum: true })).toEqual(decodeIpv4Tcp(p, { verifyChecksum: true }));
    expect(decodeIpv4Tcp(padded)).toMatchObject({ ok: true, segment: { payloadLength: 4 } });
  });

  it('accepts the DF flag', () => {
    expect(decodeIpv4Tcp(packet(segment(), { fragment: 0x4000 })).ok).toBe(true);
    expect(decodeIpv4Tcp(packet(segment(), { fragment: 0x0000 })).ok).toBe(true);
  });

  it('decodes from a view into a larger buffer without reading outside it', () => {
    const p = packet(segment({ options: { wscale: 3 } }));
    const big = Buffer.alloc(p.length + 100, 0xff);
    p.copy(big, 50);
    expect(decodeIpv4Tcp(big.subarray(50, 50 + p.length), { verifyChecksum: true })).toEqual(decodeIpv4Tcp(p, { verifyChecksum: true }));
    expect(decodeIpv4Tcp(new Uint8Array(big.buffer, big.byteOffset + 50, p.length), { verifyChecksum: true })).toMatchObject({ ok: true });
  });
});
