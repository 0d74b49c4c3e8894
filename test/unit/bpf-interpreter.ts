// A small classic-BPF interpreter: the subset synpool's programs use, with the
// kernel's semantics (an out-of-bounds load drops the packet).
import { BPF, SKF_NET_OFF } from '../../native/constants.js';
import type { SockFilter } from '../../native/structs.js';

/**
 * Runs `prog` over `pkt` (what the socket sees). `net` is the network header,
 * reachable at SKF_NET_OFF + n as in the kernel; without it such loads drop.
 */
export function run(prog: SockFilter[], pkt: Uint8Array, net?: Uint8Array): number {
  let A = 0;
  let X = 0;
  const load = (k: number, size: number): number | undefined => {
    // k is a signed 32-bit offset in the kernel (bpf_load_pointer): negative ones reach the headers.
    const off = k | 0;
    const skNet = off >= SKF_NET_OFF && off < SKF_NET_OFF + 0x100000;
    const bytes = skNet ? net : pkt;
    const at = skNet ? off - SKF_NET_OFF : off;
    if (bytes === undefined || at < 0 || at + size > bytes.length) return undefined;
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + (bytes[at + i] as number);
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

