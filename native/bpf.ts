// Classic BPF programs in C memory, ready for SO_ATTACH_FILTER. The kernel
// copies a program when it is attached, but the memory stays allocated for
// the life of the process: programs are few and reused (one drop-all for
// every reserved port, one per SYN-channel target set).
import { koffiModule } from './libc.js';
import { SOCK_FILTER_SIZE, SOCK_FPROG_FILTER_OFFSET, SOCK_FPROG_SIZE, type SockFilter } from './structs.js';

/** A loaded program: `fprog` is the struct sock_fprog to pass to setsockopt. */
export interface BpfProgram {
  readonly fprog: Buffer;
  readonly length: number;
  /** Frees the instruction memory. Only after no setsockopt can still read it. */
  free(): void;
}

/** Classic BPF limits jump offsets to 8 bits and programs to 4096 instructions. */
export const BPF_MAXINSNS = 4096;

export function loadBpfProgram(program: readonly SockFilter[]): BpfProgram {
  if (program.length === 0 || program.length > BPF_MAXINSNS) {
    throw new RangeError(`a BPF program needs 1 to ${BPF_MAXINSNS} instructions, got ${program.length}`);
  }
  const k = koffiModule();
  const size = program.length * SOCK_FILTER_SIZE;
  const ptr = k.alloc('uint8_t', size) as unknown as bigint;
  const mem = Buffer.from(k.view(ptr as never, size) as ArrayBuffer);
  program.forEach((insn, i) => {
    const o = i * SOCK_FILTER_SIZE;
    mem.writeUInt16LE(insn.code, o);
    mem.writeUInt8(insn.jt, o + 2);
    mem.writeUInt8(insn.jf, o + 3);
    mem.writeUInt32LE(insn.k >>> 0, o + 4);
  });
  const fprog = Buffer.alloc(SOCK_FPROG_SIZE);
  fprog.writeUInt16LE(program.length, 0);
  fprog.writeBigUInt64LE(BigInt(k.address(ptr as never)), SOCK_FPROG_FILTER_OFFSET);
  let freed = false;
  return {
    fprog,
    length: program.length,
    free() {
      if (freed) return;
      freed = true;
      k.free(ptr as never);
    },
  };
}
