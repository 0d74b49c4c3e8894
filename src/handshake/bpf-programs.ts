// The two classic-BPF programs synpool attaches. Pure: instructions only;
// native/bpf.ts puts them in memory for SO_ATTACH_FILTER.
import { BPF } from '../../native/constants.js';
import type { SockFilter } from '../../native/structs.js';
import type { Endpoint } from './endpoint.js';

const RET_K = BPF.RET | BPF.K;
const ACCEPT = 0xffff; // bytes to keep: more than any SYN-ACK or RST
const DROP = 0;

/** A program that drops every packet: on a reserving listener it keeps TCP from ever seeing (and resetting) the SYN-ACK. */
export function dropAllProgram(): SockFilter[] {
  return [{ code: RET_K, jt: 0, jf: 0, k: DROP }];
}

/** As many target checks as fit before the 8-bit jump offsets overflow. */
export const MAX_FILTER_TARGETS = 60;

type Label = string;
interface AsmInsn {
  code: number;
  k: number;
  jt?: Label;
  jf?: Label;
  label?: Label;
}

/** Resolves symbolic jump labels into the forward offsets classic BPF uses. */
function assemble(code: AsmInsn[]): SockFilter[] {
  const at = new Map<Label, number>();
  code.forEach((c, i) => c.label && at.set(c.label, i));
  const offset = (from: number, label: Label | undefined): number => {
    if (label === undefined) return 0;
    const to = at.get(label);
    if (to === undefined || to <= from || to - from - 1 > 255) throw new RangeError(`BPF jump to ${label} out of range`);
    return to - from - 1;
  };
  return code.map((c, i) => ({ code: c.code, k: c.k >>> 0, jt: offset(i, c.jt), jf: offset(i, c.jf) }));
}

/**
 * For the raw SYN channel (packets start at the IPv4 header): keep only
 * unfragmented SYN-ACK and RST segments whose source is one of `targets`;
 * every other inbound TCP segment on the host (all the proxied traffic) is
 * dropped in the kernel and never wakes JavaScript. With no targets, or more
 * than fit, the source check is left out (flags only).
 */
export function synChannelProgram(targets: readonly Endpoint[]): SockFilter[] {
  const checkSources = targets.length > 0 && targets.length <= MAX_FILTER_TARGETS;
  const next = checkSources ? 't0' : 'accept';
  const code: AsmInsn[] = [
    { code: BPF.LD | BPF.H | BPF.ABS, k: 6 }, // flags + fragment offset
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x1fff, jt: 'drop' }, // a non-first fragment has no TCP header
    { code: BPF.LDX | BPF.B | BPF.MSH, k: 0 }, // X = IP header length
    { code: BPF.LD | BPF.B | BPF.IND, k: 13 }, // A = TCP flags
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x04, jt: next }, // RST
    { code: BPF.ALU | BPF.AND | BPF.K, k: 0x12 },
    { code: BPF.JMP | BPF.JEQ | BPF.K, k: 0x12, jt: next, jf: 'drop' }, // SYN+ACK
  ];
  if (checkSources) {
    targets.forEach((t, i) => {
      const skip = i + 1 < targets.length ? `t${i + 1}` : 'drop';
      code.push(
        { code: BPF.LD | BPF.W | BPF.ABS, k: 12, label: `t${i}` }, // A = source address
        { code: BPF.JMP | BPF.JEQ | BPF.K, k: ipv4ToUint32(t.address), jf: skip },
        { code: BPF.LD | BPF.H | BPF.IND, k: 0 }, // A = source port
        { code: BPF.JMP | BPF.JEQ | BPF.K, k: t.port, jt: 'accept', jf: skip },
      );
    });
  }
  code.push({ code: RET_K, k: DROP, label: 'drop' }, { code: RET_K, k: ACCEPT, label: 'accept' });
  return assemble(code);
}

export function ipv4ToUint32(address: string): number {
  const [a, b, c, d] = address.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}
