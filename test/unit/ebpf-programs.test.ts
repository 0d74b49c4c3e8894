// The eBPF forms of the two socket filters (loaded once, attached by fd): their bytes, and
// what they decide, through a small interpreter of the instructions they use, against the
// classic programs they replace (bpf-interpreter.ts). The kernel's side (the verifier
// accepts them, a server's entry stays in SYN_RECV behind them) is
// test/integration/held-handoff.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EBPF, encodeEbpf, type EbpfInsn } from '../../native/ebpf.js';
import { dropAllEbpf, dropAllProgram, dropSynEbpf, dropSynProgram } from '../../src/handshake/bpf-programs.js';
import { encodeTcpSegment, TCP_FLAGS } from '../../src/packet/index.js';
import { run as runClassic } from './bpf-interpreter.js';

/** The socket filter's return value as the kernel reads it (u32: bytes to keep, 0 drops); undefined: the program would fault. */
function runEbpf(prog: readonly EbpfInsn[], pkt: Uint8Array): number | undefined {
  const r = new Array<bigint>(11).fill(0n);
  const CTX = 1n; // an opaque pointer: only moved into r6, as LD_ABS requires
  r[1] = CTX;
  const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
  for (let pc = 0, steps = 0; pc < prog.length && steps < 1000; pc++, steps++) {
    const i = prog[pc]!;
    switch (i.code) {
      case EBPF.MOV64_K:
        r[i.dst] = u64(BigInt(i.imm));
        break;
      case EBPF.MOV64_X:
        r[i.dst] = r[i.src]!;
        break;
      case EBPF.AND64_K:
        r[i.dst] = u64(r[i.dst]! & u64(BigInt(i.imm)));
        break;
      case EBPF.JNE_K:
        if (r[i.dst] !== u64(BigInt(i.imm))) pc += i.off;
        break;
      case EBPF.LD_ABS_B:
        if (r[6] !== CTX) return undefined;
        // Past the packet's end the kernel ends the program, returning 0.
        if (i.imm >= pkt.length) return 0;
        r[0] = BigInt(pkt[i.imm]!);
        break;
      case EBPF.EXIT:
        return Number(BigInt.asUintN(32, r[0]!));
      default:
        throw new Error(`opcode 0x${i.code.toString(16)} not in this interpreter`);
    }
  }
  return undefined;
}

const { SYN, ACK, RST, FIN, PSH } = TCP_FLAGS;
const segment = (flags: number, payload = 0): Uint8Array =>
  encodeTcpSegment({ srcAddr: '10.1.2.3', dstAddr: '10.9.9.9', srcPort: 8080, dstPort: 40000, seq: 1, ack: 2, flags, window: 100, payload: Buffer.alloc(payload, 0x53) });

describe('eBPF socket filters', () => {
  it('struct bpf_insn: code, dst in the low nibble and src in the high one, a signed 16-bit offset, a signed 32-bit immediate', () => {
    const bytes = encodeEbpf([
      { code: EBPF.MOV64_X, dst: 6, src: 1, off: 0, imm: 0 },
      { code: EBPF.JNE_K, dst: 0, src: 0, off: -2, imm: -1 },
    ]);
    expect([...bytes]).toEqual([0xbf, 0x16, 0, 0, 0, 0, 0, 0, 0x55, 0x00, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  it('drop-all drops everything, as the classic program does', () => {
    for (const flags of [SYN | ACK, ACK, RST]) {
      expect(runEbpf(dropAllEbpf(), segment(flags))).toBe(0);
      expect(runClassic(dropAllProgram(), segment(flags))).toBe(0);
    }
  });

  it('drop-SYN: the SYN-ACK retransmit dropped, data, ACKs, FINs and RSTs kept whole', () => {
    expect(runEbpf(dropSynEbpf(), segment(SYN | ACK))).toBe(0);
    for (const flags of [ACK, ACK | PSH, FIN | ACK, RST, RST | ACK]) expect(runEbpf(dropSynEbpf(), segment(flags, 1400))).toBe(0xffffffff);
  });

  it('property: any flags and payload, drop-SYN decides as the classic program does', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0, max: 2000 }), (flags, payload) => {
        const pkt = segment(flags, payload);
        expect(runEbpf(dropSynEbpf(), pkt)).toBe(runClassic(dropSynProgram(), pkt));
      }),
    );
  });
});
