// The two classic-BPF programs synpool attaches. Pure: instructions only;
// native/bpf.ts puts them in memory for SO_ATTACH_FILTER.
import { BPF, SKF_NET_OFF } from '../../native/constants.js';
import { parseIpv4Address } from '../packet/ipv4-address.js';
import { ipv6Words } from '../packet/ipv6-address.js';
import type { SockFilter } from '../../native/structs.js';
import { EBPF, type EbpfInsn } from '../../native/ebpf.js';
import type { Endpoint } from './endpoint.js';
import { ISN_TAG_MASK, isnTagPattern } from './isn-tag.js';

const RET_K = BPF.RET | BPF.K;
const ACCEPT = 0xffff; // bytes to keep: more than any SYN-ACK or RST
const DROP = 0;

/** A program that drops every packet: on a reserving listener it keeps TCP from ever seeing (and resetting) the SYN-ACK. */
export function dropAllProgram(): SockFilter[] {
  return [{ code: RET_K, jt: 0, jf: 0, k: DROP }];
}

/**
 * What a filter returns to keep a packet whole. SO_ATTACH_FILTER trims a packet to
 * the length returned, and a TCP socket's segments (coalesced by GRO) can be
 * longer than any smaller bound.
 */
const KEEP_WHOLE = 0xffffffff;

/**
 * For a held connection (held-socket.ts): drops every segment with SYN set and
 * keeps every other one whole. A TCP socket's filter sees the TCP header first.
 *
 * The only SYN an ESTABLISHED socket can receive is the server's SYN-ACK
 * retransmit, and the socket would answer it (RFC 5961's challenge ACK),
 * completing the server's handshake before any request. A server in SYN_RECV
 * sends nothing else but a RST, which should reach the socket: a held
 * connection reset while it waits is then closed, not handed to a request.
 * Once the first request byte has completed the handshake the server sends no
 * SYN at all, so the filter stays: using a held connection takes no syscall.
 */
export function dropSynProgram(): SockFilter[] {
  return assemble([
    { code: BPF.LD | BPF.B | BPF.ABS, k: 13 }, // A = TCP flags
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x02, jt: 'drop' },
    { code: RET_K, k: KEEP_WHOLE },
    { code: RET_K, k: DROP, label: 'drop' },
  ]);
}

/** dropAllProgram as eBPF (native/ebpf.ts): r0 = 0, exit. */
export function dropAllEbpf(): EbpfInsn[] {
  return [
    { code: EBPF.MOV64_K, dst: 0, src: 0, off: 0, imm: DROP },
    { code: EBPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
}

/**
 * dropSynProgram as eBPF: the same legacy packet load (offset 13 from the TCP header a
 * TCP socket's filter starts at), SYN set → 0 (drop), anything else → 0xffffffff (keep whole).
 */
export function dropSynEbpf(): EbpfInsn[] {
  return [
    { code: EBPF.MOV64_X, dst: 6, src: 1, off: 0, imm: 0 }, // r6 = ctx, as LD_ABS requires
    { code: EBPF.LD_ABS_B, dst: 0, src: 0, off: 0, imm: 13 }, // r0 = TCP flags
    { code: EBPF.AND64_K, dst: 0, src: 0, off: 0, imm: 0x02 },
    { code: EBPF.JNE_K, dst: 0, src: 0, off: 2, imm: 0 }, // SYN → drop
    { code: EBPF.MOV64_K, dst: 0, src: 0, off: 0, imm: -1 }, // 0xffffffff: keep whole
    { code: EBPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
    { code: EBPF.MOV64_K, dst: 0, src: 0, off: 0, imm: DROP },
    { code: EBPF.EXIT, dst: 0, src: 0, off: 0, imm: 0 },
  ];
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
 * Both families' rule on the TCP header: an answer (SYN+ACK, or RST+ACK) whose
 * acknowledgement number carries the ISN tag goes on to `next`, anything else is
 * dropped. `mode` is how the TCP header is reached: BPF.IND (X = the IPv4
 * header's length) or BPF.ABS (an IPv6 raw socket sees the TCP header first).
 */
function answerChecks(mode: number, pattern: number, next: Label): AsmInsn[] {
  return [
    { code: BPF.LD | BPF.B | mode, k: 13 }, // A = TCP flags
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x10, jf: 'drop' }, // no ACK: answers nothing we sent
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x04, jt: 'tag' }, // RST+ACK: a refused SYN
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x02, jf: 'drop' }, // SYN+ACK
    { code: BPF.LD | BPF.W | mode, k: 8, label: 'tag' }, // A = acknowledgement number
    { code: BPF.ALU | BPF.AND | BPF.K, k: ISN_TAG_MASK },
    { code: BPF.JMP | BPF.JEQ | BPF.K, k: pattern, jt: next, jf: 'drop' },
  ];
}

/**
 * For the raw SYN channel (packets start at the IPv4 header): keep only
 * unfragmented answers to *our* SYNs from one of `targets`. The raw socket
 * gets a copy of every inbound TCP segment on the host, so the filter must
 * tell our handshakes from the proxy's plain connects to the same upstream
 * (at 2 000 plain connects/s their SYN-ACKs overflowed the receive buffer
 * and the pool's own answers were lost). It does so by the acknowledgement
 * number: every SYN the pool sends has an ISN whose ISN+1 carries `isnTag` in
 * its top bits (isn-tag.ts), and every answer to it (SYN-ACK, or RST+ACK when
 * refused) acknowledges ISN+1. A plain connect's SYN-ACK acknowledges a
 * kernel-chosen ISN and matches the tag once in 4096.
 *
 * A RST without ACK is dropped: it answers an ACK-bearing segment (RFC 9293:
 * seq = that segment's ack, no ACK flag), and before the handoff the pool
 * sends none (after it, the repaired socket receives its own RSTs).
 *
 * With no targets, or more than fit, the source check is left out (flags and tag only).
 */
export function synChannelProgram(targets: readonly Endpoint[], isnTag: number): SockFilter[] {
  const pattern = isnTagPattern(isnTag);
  const checkSources = targets.length > 0 && targets.length <= MAX_FILTER_TARGETS;
  const next = checkSources ? 't0' : 'accept';
  const code: AsmInsn[] = [
    { code: BPF.LD | BPF.H | BPF.ABS, k: 6 }, // flags + fragment offset
    { code: BPF.JMP | BPF.JSET | BPF.K, k: 0x1fff, jt: 'drop' }, // a non-first fragment has no TCP header
    { code: BPF.LDX | BPF.B | BPF.MSH, k: 0 }, // X = IP header length
    ...answerChecks(BPF.IND, pattern, next),
  ];
  if (checkSources) {
    targets.forEach((t, i) => {
      const skip = i + 1 < targets.length ? `t${i + 1}` : 'drop';
      code.push(
        { code: BPF.LD | BPF.W | BPF.ABS, k: 12, label: `t${i}` }, // A = source address
        { code: BPF.JMP | BPF.JEQ | BPF.K, k: parseIpv4Address(t.address), jf: skip },
        { code: BPF.LD | BPF.H | BPF.IND, k: 0 }, // A = source port
        { code: BPF.JMP | BPF.JEQ | BPF.K, k: t.port, jt: 'accept', jf: skip },
      );
    });
  }
  code.push({ code: RET_K, k: DROP, label: 'drop' }, { code: RET_K, k: ACCEPT, label: 'accept' });
  return assemble(code);
}

/** As many IPv6 target checks (10 instructions each) as fit before the 8-bit jump offsets overflow. */
export const MAX_FILTER_TARGETS_V6 = 24;

/** Offset of the IPv6 source address in the IPv6 header (RFC 8200 §3). */
const IPV6_SRC = 8;

/**
 * synChannelProgram for an AF_INET6 raw socket. There the packet the filter
 * sees starts at the TCP header (the kernel has already consumed the IPv6
 * header, extension headers and any fragmentation), so flags and ack are at
 * fixed offsets; the source address is read from the network header through
 * SKF_NET_OFF, a word at a time. Same rules as the IPv4 program: answers
 * (SYN-ACK, RST+ACK) acknowledging a tagged ISN, from a target's address and
 * port; with no targets or too many, flags and tag only.
 */
export function synChannelProgramV6(targets: readonly Endpoint[], isnTag: number): SockFilter[] {
  const pattern = isnTagPattern(isnTag);
  const checkSources = targets.length > 0 && targets.length <= MAX_FILTER_TARGETS_V6;
  const next = checkSources ? 't0' : 'accept';
  // The TCP header is at offset 0 here: absolute loads.
  const code: AsmInsn[] = [...answerChecks(BPF.ABS, pattern, next)];
  if (checkSources) {
    targets.forEach((t, i) => {
      const skip = i + 1 < targets.length ? `t${i + 1}` : 'drop';
      const words = ipv6Words(t.address);
      words.forEach((w, j) => {
        code.push(
          { code: BPF.LD | BPF.W | BPF.ABS, k: SKF_NET_OFF + IPV6_SRC + 4 * j, ...(j === 0 ? { label: `t${i}` } : {}) },
          { code: BPF.JMP | BPF.JEQ | BPF.K, k: w, jf: skip },
        );
      });
      code.push(
        { code: BPF.LD | BPF.H | BPF.ABS, k: 0 }, // A = source port
        { code: BPF.JMP | BPF.JEQ | BPF.K, k: t.port, jt: 'accept', jf: skip },
      );
    });
  }
  code.push({ code: RET_K, k: DROP, label: 'drop' }, { code: RET_K, k: ACCEPT, label: 'accept' });
  return assemble(code);
}

