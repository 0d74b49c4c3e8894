// The SYN-channel filter, run through a small classic-BPF interpreter (the
// subset these programs use, with the kernel's semantics: out-of-bounds
// loads drop the packet).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BPF } from '../../native/constants.js';
import type { SockFilter } from '../../native/structs.js';
import { dropAllProgram, MAX_FILTER_TARGETS, synChannelProgram } from '../../src/handshake/bpf-programs.js';
import { encodeTcpSegment, TCP_FLAGS } from '../../src/packet/index.js';
import { wrapIpv4 } from './packet-fixtures.js';

function run(prog: SockFilter[], pkt: Uint8Array): number {
  let A = 0;
  let X = 0;
  const load = (off: number, size: number): number | undefined => {
    if (off < 0 || off + size > pkt.length) return undefined;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + (pkt[off + i] as number);
    return v >>> 0;
  };
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, k, jt, jf } = prog[pc] as SockFilter;
    const cls = code & 0x07;
    if (cls === BPF.LD) {
      const size = (code & 0x18) === BPF.W ? 4 : (code & 0x18) === BPF.H ? 2 : 1;
      const v = load((code & 0xe0) === BPF.IND ? X + k : k, size);
      if (v === undefined) return 0;
      A = v;
    } else if (cls === BPF.LDX) {
      if ((code & 0xe0) !== BPF.MSH) throw new Error(`unsupported ldx ${code}`);
      const v = load(k, 1);
      if (v === undefined) return 0;
      X = (v & 0xf) * 4;
    } else if (cls === BPF.ALU) {
      if ((code & 0xf0) !== BPF.AND) throw new Error(`unsupported alu ${code}`);
      A = (A & k) >>> 0;
    } else if (cls === BPF.JMP) {
      const op = code & 0xf0;
      const taken = op === BPF.JEQ ? A === k >>> 0 : op === BPF.JSET ? (A & k) !== 0 : (() => { throw new Error(`unsupported jmp ${code}`); })();
      pc += taken ? jt : jf;
    } else if (cls === BPF.RET) {
      return k;
    } else {
      throw new Error(`unsupported class ${cls}`);
    }
  }
  throw new Error('fell off the end of the program');
}

const targets = [
  { address: '10.1.2.3', port: 8080 },
  { address: '192.168.7.9', port: 80 },
];

function packet(src: string, srcPort: number, flags: number, fragOffset = 0): Uint8Array {
  const seg = encodeTcpSegment({ srcAddr: src, dstAddr: '10.9.9.9', srcPort, dstPort: 40000, seq: 1, ack: 2, flags, window: 100 });
  const pkt = wrapIpv4(seg, src, '10.9.9.9');
  pkt[6] = (pkt[6] as number) | ((fragOffset >> 8) & 0x1f);
  pkt[7] = fragOffset & 0xff;
  return pkt;
}

describe('synChannelProgram', () => {
  const prog = synChannelProgram(targets);

  it('keeps SYN-ACK and RST from a target', () => {
    expect(run(prog, packet('10.1.2.3', 8080, TCP_FLAGS.SYN | TCP_FLAGS.ACK))).toBeGreaterThan(0);
    expect(run(prog, packet('192.168.7.9', 80, TCP_FLAGS.RST))).toBeGreaterThan(0);
    expect(run(prog, packet('192.168.7.9', 80, TCP_FLAGS.RST | TCP_FLAGS.ACK))).toBeGreaterThan(0);
  });

  it('drops data, pure ACKs, FINs, SYNs and other sources', () => {
    expect(run(prog, packet('10.1.2.3', 8080, TCP_FLAGS.ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, TCP_FLAGS.ACK | TCP_FLAGS.PSH))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, TCP_FLAGS.FIN | TCP_FLAGS.ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8080, TCP_FLAGS.SYN))).toBe(0);
    expect(run(prog, packet('10.1.2.3', 8081, TCP_FLAGS.SYN | TCP_FLAGS.ACK))).toBe(0);
    expect(run(prog, packet('10.1.2.4', 8080, TCP_FLAGS.SYN | TCP_FLAGS.ACK))).toBe(0);
    expect(run(prog, packet('192.168.7.9', 8080, TCP_FLAGS.RST))).toBe(0);
  });

  it('drops non-first fragments', () => {
    expect(run(prog, packet('10.1.2.3', 8080, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 185))).toBe(0);
  });

  it('accepts exactly (SYN-ACK or RST) from a target, for any flags and source', () => {
    const arbTarget = fc.constantFrom(...targets);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.oneof(arbTarget, fc.record({ address: fc.ipV4(), port: fc.integer({ min: 1, max: 65535 }) })),
        (flags, src) => {
          const isTarget = targets.some((t) => t.address === src.address && t.port === src.port);
          const wanted = (flags & TCP_FLAGS.RST) !== 0 || (flags & (TCP_FLAGS.SYN | TCP_FLAGS.ACK)) === (TCP_FLAGS.SYN | TCP_FLAGS.ACK);
          expect(run(prog, packet(src.address, src.port, flags)) > 0).toBe(isTarget && wanted);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('never reads out of bounds on hostile bytes (drops instead)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      expect(() => run(prog, bytes)).not.toThrow();
    }), { numRuns: 2000 });
  });

  it('checks flags only when there are no targets or too many for the jump range', () => {
    const open = synChannelProgram([]);
    expect(run(open, packet('1.2.3.4', 5, TCP_FLAGS.SYN | TCP_FLAGS.ACK))).toBeGreaterThan(0);
    expect(run(open, packet('1.2.3.4', 5, TCP_FLAGS.ACK))).toBe(0);
    const many = Array.from({ length: MAX_FILTER_TARGETS + 1 }, (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}`, port: 80 }));
    expect(run(synChannelProgram(many), packet('1.2.3.4', 5, TCP_FLAGS.RST))).toBeGreaterThan(0);
  });

  it('fits its jumps for the largest target list it checks', () => {
    const max = Array.from({ length: MAX_FILTER_TARGETS }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 80 + i }));
    const p = synChannelProgram(max);
    expect(run(p, packet(`10.0.0.${MAX_FILTER_TARGETS}`, 80 + MAX_FILTER_TARGETS - 1, TCP_FLAGS.RST))).toBeGreaterThan(0);
    expect(run(p, packet('10.0.0.1', 81, TCP_FLAGS.RST))).toBe(0);
  });
});

describe('dropAllProgram', () => {
  it('drops everything', () => {
    expect(run(dropAllProgram(), packet('10.1.2.3', 8080, TCP_FLAGS.SYN | TCP_FLAGS.ACK))).toBe(0);
  });
});
