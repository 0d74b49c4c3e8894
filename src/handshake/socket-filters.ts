// The two filters synpool puts on its own TCP sockets (bpf-programs.ts): drop-all on a
// port reservation, drop-SYN on a held connection. Attached as loaded eBPF programs by
// fd when this process has them (the supervisor loads them as root and hands them to
// the keeper; a root process loads them itself on first use), otherwise as classic
// programs, which the kernel checks and JIT-compiles again on every attach (74 µs a
// socket on this project's host: most of what opening a pool entry cost the keeper).
import { SO_ATTACH_BPF, SO_ATTACH_FILTER, SOL_SOCKET } from '../../native/constants.js';
import { loadBpfProgram, type BpfProgram } from '../../native/bpf.js';
import { loadSocketFilter } from '../../native/ebpf.js';
import { closeFd, setBufferOption, setIntOption } from '../../native/socket-ops.js';
import { dropAllEbpf, dropAllProgram, dropSynEbpf, dropSynProgram } from './bpf-programs.js';

export type SocketFilter = 'dropAll' | 'dropSyn';
/** Program fds of the loaded eBPF filters. */
export type FilterProgramFds = Readonly<Record<SocketFilter, number>>;

const EBPF_PROGRAMS = { dropAll: dropAllEbpf, dropSyn: dropSynEbpf } as const;
const CLASSIC_PROGRAMS = { dropAll: dropAllProgram, dropSyn: dropSynProgram } as const;

/** undefined: not tried yet (try loading on first use); null: classic from now on. */
let programs: FilterProgramFds | null | undefined;
/** Why the classic programs are in use (for the log line at start), once known. */
let classicReason: string | undefined;
const classic: Partial<Record<SocketFilter, BpfProgram>> = {};

/**
 * Loads both eBPF programs, or returns why not (no CAP_BPF/CAP_SYS_ADMIN, an old kernel).
 * The caller owns the fds (the supervisor keeps them open to hand to every keeper it starts).
 */
export function loadFilterPrograms(): FilterProgramFds | string {
  let dropAll: number | undefined;
  try {
    dropAll = loadSocketFilter(EBPF_PROGRAMS.dropAll(), 'synpool_dropall');
    const dropSyn = loadSocketFilter(EBPF_PROGRAMS.dropSyn(), 'synpool_dropsyn');
    return { dropAll, dropSyn };
  } catch (err) {
    if (dropAll !== undefined) closeFd(dropAll);
    return (err as Error).message;
  }
}

/** Use these loaded programs from now on (the keeper: the fds the supervisor passed). */
export function useFilterPrograms(fds: FilterProgramFds): void {
  programs = fds;
  classicReason = undefined;
}

/** Classic programs from now on, without trying to load (tests of the classic path; a process that must not). */
export function useClassicFilters(reason: string): void {
  programs = null;
  classicReason = reason;
}

/** 'ebpf' or 'classic', as the next attach will be (trying the load now if it was not tried). */
export function filterMode(): { mode: 'ebpf' | 'classic'; reason?: string } {
  ensure();
  return programs ? { mode: 'ebpf' } : { mode: 'classic', reason: classicReason ?? 'unknown' };
}

function ensure(): void {
  if (programs !== undefined) return;
  const loaded = loadFilterPrograms();
  if (typeof loaded === 'string') useClassicFilters(loaded);
  else programs = loaded;
}

/** Attaches `filter` to socket `fd`. Throws SyscallError as setsockopt does. */
export function attachFilter(fd: number, filter: SocketFilter, what: string): void {
  ensure();
  if (programs) {
    try {
      setIntOption(fd, SOL_SOCKET, SO_ATTACH_BPF, programs[filter], what);
      return;
    } catch (err) {
      // A kernel without SO_ATTACH_BPF, or a program fd that is not one: classic for good.
      useClassicFilters(`SO_ATTACH_BPF: ${(err as Error).message}`);
    }
  }
  const prog = (classic[filter] ??= loadBpfProgram(CLASSIC_PROGRAMS[filter]()));
  setBufferOption(fd, SOL_SOCKET, SO_ATTACH_FILTER, prog.fprog, what);
}
