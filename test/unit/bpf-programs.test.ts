// The SYN-channel filter, run through a small classic-BPF interpreter
// (bpf-interpreter.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dropAllProgram, dropSynProgram, MAX_FILTER_TARGETS, synChannelProgram } from '../../src/handshake/bpf-programs.js';
import { ackCarriesTag, ISN_TAG_BITS, ISN_TAG_MASK, isnTagPattern, MAX_ISN_TAG, taggedIsn } from '../../src/handshake/isn-tag.js';
import { encodeTcpSegment, TCP_FLAGS } from '../../src/packet/index.js';
import { run } from './bpf-interpreter.js';
import { wrapIpv4 } from './packet-fixtures.js';

const targets = [
  { address: '10.1.2.3', port: 8080 },
  { address: '192.168.7.9', port: 80 },
];
const TAG = 0xa5c;
/** An acknowledgement number that answers one of our SYNs: our ISN+1. */
const ours = (random = 0x12345): number => (taggedIsn(TAG, random) + 1) >>> 0;
/** A plain connect's: the kernel's ISN+1, any value without our tag. */
const PLAIN_ACK = 0x5a3c1f07;

function packet(src: string, srcPort: number, flags: number, ack = ours(), fragOffset = 0): Uint8Array {
  const seg = encodeTcpSegment({ srcAddr: src, dstAddr: '10.9.9.9', srcPort, dstPort: 40000, seq: 1, ack, flags, window: 100 });
  const pkt = wrapIpv4(seg, src, '10.9.9.9');
  pkt[6] = (pkt[6] as number) | ((fragOffset >> 8) & 0x1f);
  pkt[7] = fragOffset & 0xff;
  return pkt;
}

const { SYN, ACK, RST, FIN, PSH } = TCP_FLAGS;

describe('synChannelProgram', () => {
  const prog = synChannelProgram(targets, TAG);

  it("keeps a target's answers to our SYNs: SYN-ACK and RST+ACK acknowledging a tagged ISN", () => {
    expect(run(prog, packet('10.1.2.3', 8080, SYN | ACK))).toBeGreaterThan(0);
    expect(run(prog, packet('192.168.7.9', 80, RST | ACK))).toBeGreaterThan(0);
  });

  it('drops the answers to plain connects (an untagged ack), from the same target', () => {
    expect(PLAIN_ACK & ISN_TAG_MASK).not.toBe(isnTagPattern(TAG));
    expect(run(prog, packet('10.1.2.3', 8080, SYN | ACK, PLAIN_ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, RST | ACK, PLAIN_ACK))).toBe(0);
    // Another channel's tag is someone else's handshake.
    expect(run(prog, packet('10.1.2.3', 8080, SYN | ACK, (taggedIsn(TAG ^ 1, 7) + 1) >>> 0))).toBe(0);
  });

  it('drops a RST without ACK, even with a tagged seq or ack: it answers nothing the pool sends before the handoff', () => {
    expect(run(prog, packet('10.1.2.3', 8080, RST))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, RST, 0))).toBe(0);
  });

  it('drops data, pure ACKs, FINs, SYNs and other sources', () => {
    expect(run(prog, packet('10.1.2.3', 8080, ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, ACK | PSH))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, FIN | ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, SYN))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8081, SYN | ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.4', 8080, SYN | ACK))).toBe(0);
    expect(run(prog, packet('192.168.7.9', 8080, RST | ACK))).toBe(0);
  });

  it('drops non-first fragments', () => {
    expect(run(prog, packet('10.1.2.3', 8080, SYN | ACK, ours(), 185))).toBe(0);
  });

  it('accepts exactly (SYN-ACK or RST+ACK) from a target acknowledging a tagged ISN, for any flags, source and ack', () => {
    const arbTarget = fc.constantFrom(...targets);
    const arbAck = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }).map((r) => ours(r)), fc.integer({ min: 0, max: 0xffffffff }));
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.oneof(arbTarget, fc.record({ address: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) })),
        arbAck,
        (flags, src, ack) => {
          const isTarget = targets.some((t) => t.address === src.address && t.port === src.port);
          const answer = (flags & ACK) !== 0 && (flags & (RST | SYN)) !== 0;
          const tagged = ackCarriesTag(ack, TAG);
          expect(run(prog, packet(src.address, src.port, flags, ack)) > 0).toBe(isTarget && answer && tagged);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('passes every ISN the handshaker can choose, for any tag, and random acks about once in 4096', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_ISN_TAG }), fc.integer({ min: 0, max: 0xffffffff }), (tag, random) => {
        const p = synChannelProgram(targets, tag);
        expect(run(p, packet('10.1.2.3', 8080, SYN | ACK, (taggedIsn(tag, random) + 1) >>> 0))).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
    // A deterministic sweep of "kernel" acks: exactly the 2^20 values with our tag pass, so 1/4096 of a uniform spread.
    let passed = 0;
    const N = 1 << 16;
    for (let i = 0; i < N; i++) if (run(prog, packet('10.1.2.3', 8080, SYN | ACK, (i * 65_537) >>> 0)) > 0) passed++;
    expect(passed).toBe(N >> ISN_TAG_BITS);
  });

  it('never reads out of bounds on hostile bytes (drops instead)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      expect(() => run(prog, bytes)).not.toThrow();
    }), { numRuns: 2000 });
  });

  it('checks flags and tag only when there are no targets or too many for the jump range', () => {
    const open = synChannelProgram([], TAG);
    expect(run(open, packet('1.2.3.4', 5, SYN | ACK))).toBeGreaterThan(0);
    expect(run(open, packet('1.2.3.4', 5, SYN | ACK, PLAIN_ACK))).toBe(0);
    expect(run(open, packet('1.2.3.4', 5, ACK))).toBe(0);
    const many = Array.from({ length: MAX_FILTER_TARGETS + 1 }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}`, port: 80 }));
    expect(run(synChannelProgram(many, TAG), packet('1.2.3.4', 5, RST | ACK))).toBeGreaterThan(0);
  });

  it('fits its jumps for the largest target list it checks', () => {
    const max = Array.from({ length: MAX_FILTER_TARGETS }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 80 + i }));
    const p = synChannelProgram(max, TAG);
    expect(run(p, packet(`10.0.0.${MAX_FILTER_TARGETS}`, 80 + MAX_FILTER_TARGETS - 1, RST | ACK))).toBeGreaterThan(0);
    expect(run(p, packet('10.0.0.1', 81, RST | ACK))).toBe(0);
  });

  it('rejects a tag outside its bits', () => {
    expect(() => synChannelProgram(targets, MAX_ISN_TAG + 1)).toThrow(RangeError);
    expect(() => synChannelProgram(targets, -1)).toThrow(RangeError);
    expect(() => synChannelProgram(targets, 1.5)).toThrow(RangeError);
  });
});

describe('dropAllProgram', () => {
  it('drops everything', () => {
    expect(run(dropAllProgram(), packet('10.1.2.3', 8080, SYN | ACK))).toBe(0);
  });
});

describe('dropSynProgram (a held connection: the TCP header comes first)', () => {
  const prog = dropSynProgram();
  /** What a TCP socket's filter sees: the segment from its TCP header on. */
  const segment = (flags: number, payload = 0): Uint8Array =>
    encodeTcpSegment({ srcAddr: '10.1.2.3', dstAddr: '10.9.9.9', srcPort: 8080, dstPort: 40000, seq: 1, ack: 2, flags, window: 100, payload: Buffer.alloc(payload, 0x53) });

  it("drops the server's SYN-ACK retransmit, and any SYN", () => {
    expect(run(prog, segment(SYN | ACK))).toBe(0);
    expect(run(prog, segment(SYN))).toBe(0);
  });

  it('keeps everything else whole: data, ACKs, FINs and RSTs (0xffffffff, never a length that could trim a coalesced segment)', () => {
    for (const flags of [ACK, ACK | PSH, FIN | ACK, RST, RST | ACK]) expect(run(prog, segment(flags, 1400))).toBe(0xffffffff);
  });

  it('property: any flags and payload, dropped exactly when SYN is set', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 2000 }), (flags, payload) => {
        expect(run(prog, segment(flags, payload))).toBe(flags & SYN ? 0 : 0xffffffff);
      }),
    );
  });
});
