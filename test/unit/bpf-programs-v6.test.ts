// The IPv6 SYN-channel filter through the interpreter: the packet is the bare
// TCP segment (what an AF_INET6 raw socket's filter sees), the IPv6 header
// reachable only through SKF_NET_OFF.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_FILTER_TARGETS_V6, synChannelProgramV6 } from '../../src/handshake/bpf-programs.js';
import { ipv6Words as ipv6ToWords } from '../../src/packet/ipv6-address.js';
import { ackCarriesTag, ISN_TAG_BITS, MAX_ISN_TAG, taggedIsn } from '../../src/handshake/isn-tag.js';
import { encodeTcpSegment, parseIpv6Address, TCP_FLAGS } from '../../src/packet/index.js';
import { run } from './bpf-interpreter.js';

const OURS = 'fd00:9::9';
const targets = [
  { address: 'fd00:1::2', port: 8080 },
  { address: '2001:db8::1:0:0:1', port: 80 },
];
const TAG = 0x3c5;
const ours = (random = 0x12345): number => (taggedIsn(TAG, random) + 1) >>> 0;
const PLAIN_ACK = 0x5a3c1f07;
const { SYN, ACK, RST, FIN, PSH } = TCP_FLAGS;

function ipv6Header(src: string, dst: string, payloadLength: number): Uint8Array {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(payloadLength, 4);
  h[6] = 6;
  h[7] = 64;
  h.set(parseIpv6Address(src), 8);
  h.set(parseIpv6Address(dst), 24);
  return h;
}

/** [what the filter sees, the network header] */
function packet(src: string, srcPort: number, flags: number, ack = ours()): [Uint8Array, Uint8Array] {
  const seg = encodeTcpSegment({ srcAddr: src, dstAddr: OURS, srcPort, dstPort: 40000, seq: 1, ack, flags, window: 100 });
  return [seg, ipv6Header(src, OURS, seg.length)];
}
const pass = (prog: ReturnType<typeof synChannelProgramV6>, p: [Uint8Array, Uint8Array]) => run(prog, p[0], p[1]) > 0;

describe('synChannelProgramV6', () => {
  const prog = synChannelProgramV6(targets, TAG);

  it('splits an address into the four words BPF loads', () => {
    expect(ipv6ToWords('fd00:1::2')).toEqual([0xfd000001, 0, 0, 2]);
  });

  it("keeps a target's answers to our SYNs, drops plain connects' answers and everything else", () => {
    expect(pass(prog, packet('fd00:1::2', 8080, SYN | ACK))).toBe(true);
    expect(pass(prog, packet('2001:db8::1:0:0:1', 80, RST | ACK))).toBe(true);
    expect(pass(prog, packet('fd00:1::2', 8080, SYN | ACK, PLAIN_ACK))).toBe(false);
    expect(pass(prog, packet('fd00:1::2', 8080, RST))).toBe(false);
    expect(pass(prog, packet('fd00:1::2', 8080, ACK | PSH))).toBe(false);
    expect(pass(prog, packet('fd00:1::2', 8080, FIN | ACK))).toBe(false);
    expect(pass(prog, packet('fd00:1::2', 8080, SYN))).toBe(false);
    expect(pass(prog, packet('fd00:1::2', 8081, SYN | ACK))).toBe(false);
    // Differs from a target in one word only, each word in turn.
    for (const other of ['fd01:1::2', 'fd00:1:0:1::2', 'fd00:1::1:0:2', 'fd00:1::3']) expect(pass(prog, packet(other, 8080, SYN | ACK))).toBe(false);
    expect(pass(prog, packet('2001:db8::1:0:0:1', 8080, SYN | ACK))).toBe(false);
  });

  it('drops when the network header cannot be read (never guesses a source)', () => {
    expect(run(prog, packet('fd00:1::2', 8080, SYN | ACK)[0])).toBe(0);
  });

  it('accepts exactly (SYN-ACK or RST+ACK) from a target acknowledging a tagged ISN, for any flags, source and ack', () => {
    const arbAck = fc.oneof(fc.nat(0xffffffff).map((r) => ours(r)), fc.nat(0xffffffff));
    const arbSrc = fc.oneof(
      fc.constantFrom(...targets),
      fc.record({ address: fc.ipV6().map((a) => new URL(`http://[${a}]/`).hostname.slice(1, -1)), port: fc.integer({ min: 1, max: 65535 }) }),
    );
    fc.assert(
      fc.property(fc.nat(255), arbSrc, arbAck, (flags, src, ack) => {
        const isTarget = targets.some((t) => t.address === src.address && t.port === src.port);
        const answer = (flags & ACK) !== 0 && (flags & (RST | SYN)) !== 0;
        expect(pass(prog, packet(src.address, src.port, flags, ack))).toBe(isTarget && answer && ackCarriesTag(ack, TAG));
      }),
      { numRuns: 3000 },
    );
  });

  it('passes every ISN the handshaker can choose, and random acks once in 4096', () => {
    fc.assert(
      fc.property(fc.nat(MAX_ISN_TAG), fc.nat(0xffffffff), (tag, random) => {
        expect(pass(synChannelProgramV6(targets, tag), packet('fd00:1::2', 8080, SYN | ACK, (taggedIsn(tag, random) + 1) >>> 0))).toBe(true);
      }),
      { numRuns: 500 },
    );
    let passed = 0;
    const N = 1 << 16;
    for (let i = 0; i < N; i++) if (pass(prog, packet('fd00:1::2', 8080, SYN | ACK, (i * 65_537) >>> 0))) passed++;
    expect(passed).toBe(N >> ISN_TAG_BITS);
  });

  it('never reads out of bounds on hostile bytes (drops instead)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), fc.uint8Array({ maxLength: 48 }), (bytes, net) => {
      expect(() => run(prog, bytes, net)).not.toThrow();
    }), { numRuns: 2000 });
  });

  it('fits its jumps for the largest list it checks; beyond, flags and tag only', () => {
    const max = Array.from({ length: MAX_FILTER_TARGETS_V6 }, (_, i) => ({ address: `fd00::${i + 1}`, port: 80 + i }));
    const p = synChannelProgramV6(max, TAG);
    expect(pass(p, packet(`fd00::${MAX_FILTER_TARGETS_V6}`, 80 + MAX_FILTER_TARGETS_V6 - 1, RST | ACK))).toBe(true);
    expect(pass(p, packet('fd00::1', 81, RST | ACK))).toBe(false);
    const many = [...max, { address: 'fd00::ffff', port: 1 }];
    expect(pass(synChannelProgramV6(many, TAG), packet('fd00:7::7', 5, SYN | ACK))).toBe(true);
    expect(pass(synChannelProgramV6([], TAG), packet('fd00:7::7', 5, SYN | ACK, PLAIN_ACK))).toBe(false);
  });
});
