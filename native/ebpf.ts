// eBPF socket filters loaded once (bpf(BPF_PROG_LOAD)), then attached to each socket
// by their program fd (SO_ATTACH_BPF). A classic filter (SO_ATTACH_FILTER) is checked,
// converted and JIT-compiled again on every attach: 74 µs a socket on this project's
// host, 10 × the socket's other syscalls, and the pool attaches one per entry.
// Loading needs CAP_BPF or CAP_SYS_ADMIN (kernel.unprivileged_bpf_disabled); attaching
// a loaded program needs nothing, so a root process can load and hand the fd on.
import { check, koffiModule } from './libc.js';

/** One eBPF instruction (struct bpf_insn): 8 bytes. */
export interface EbpfInsn {
  readonly code: number;
  readonly dst: number;
  readonly src: number;
  readonly off: number;
  readonly imm: number;
}

export const EBPF = {
  /** BPF_ALU64 | BPF_MOV | BPF_K: dst = imm (sign-extended). */
  MOV64_K: 0xb7,
  /** BPF_ALU64 | BPF_MOV | BPF_X: dst = src. */
  MOV64_X: 0xbf,
  /** BPF_ALU64 | BPF_AND | BPF_K. */
  AND64_K: 0x57,
  /** BPF_JMP | BPF_JNE | BPF_K: if dst != imm, skip `off` instructions. */
  JNE_K: 0x55,
  /** BPF_LD | BPF_ABS | BPF_B: r0 = the byte at skb->data + imm (the socket filter's legacy packet load; needs r6 = ctx). */
  LD_ABS_B: 0x30,
  /** BPF_JMP | BPF_EXIT. */
  EXIT: 0x95,
} as const;

const BPF_PROG_LOAD = 5;
const BPF_PROG_TYPE_SOCKET_FILTER = 1;
/** union bpf_attr up to and including prog_name (the rest zero): what BPF_PROG_LOAD reads here. */
const PROG_LOAD_ATTR_SIZE = 64;
/** syscall numbers of bpf(2). */
const SYS_BPF: Partial<Record<NodeJS.Architecture, number>> = { x64: 321, arm64: 280 };

export function encodeEbpf(insns: readonly EbpfInsn[]): Buffer {
  const out = Buffer.alloc(insns.length * 8);
  insns.forEach((i, n) => {
    const o = n * 8;
    out.writeUInt8(i.code, o);
    out.writeUInt8((i.dst & 0x0f) | ((i.src & 0x0f) << 4), o + 1);
    out.writeInt16LE(i.off, o + 2);
    out.writeInt32LE(i.imm, o + 4);
  });
  return out;
}

type SyscallFn = (nr: number, ...typedArgs: unknown[]) => number | bigint;
let syscall: SyscallFn | undefined;

/**
 * Loads a socket-filter program and returns its fd (close-on-exec; a child gets it only
 * when passed explicitly). Throws SyscallError: EPERM without CAP_BPF/CAP_SYS_ADMIN,
 * ENOSYS on an architecture this does not know, EINVAL for a program the verifier refuses.
 */
export function loadSocketFilter(insns: readonly EbpfInsn[], name: string): number {
  const nr = SYS_BPF[process.arch];
  if (nr === undefined) return check(-1, `bpf(BPF_PROG_LOAD) on ${process.arch}`);
  const k = koffiModule();
  syscall ??= k.load('libc.so.6').func('long syscall(long number, ...)') as unknown as SyscallFn;
  // Instructions and license in C memory: their addresses go into the attribute block.
  const code = encodeEbpf(insns);
  const insnPtr = k.alloc('uint8_t', code.length);
  const license = Buffer.from('GPL\0', 'latin1');
  const licensePtr = k.alloc('uint8_t', license.length);
  try {
    Buffer.from(k.view(insnPtr as never, code.length) as ArrayBuffer).set(code);
    Buffer.from(k.view(licensePtr as never, license.length) as ArrayBuffer).set(license);
    const attr = Buffer.alloc(PROG_LOAD_ATTR_SIZE);
    attr.writeUInt32LE(BPF_PROG_TYPE_SOCKET_FILTER, 0);
    attr.writeUInt32LE(insns.length, 4);
    attr.writeBigUInt64LE(BigInt(k.address(insnPtr as never)), 8);
    attr.writeBigUInt64LE(BigInt(k.address(licensePtr as never)), 16);
    attr.write(name.slice(0, 15), 48, 'latin1');
    const fd = Number(syscall(nr, 'int', BPF_PROG_LOAD, 'void *', attr, 'unsigned int', PROG_LOAD_ATTR_SIZE));
    return check(fd, `bpf(BPF_PROG_LOAD, ${name})`);
  } finally {
    k.free(insnPtr as never);
    k.free(licensePtr as never);
  }
}
