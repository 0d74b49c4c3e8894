// The two libc calls only the test topology makes (entering a network
// namespace). They live here, not in native/libc.ts, so the proxy's symbol
// table holds only what production uses.
import { koffiModule } from '../../native/libc.js';

export interface NamespaceLibc {
  /** int open(const char *pathname, int flags) */
  open(path: string, flags: number): number;
  /** int setns(int fd, int nstype) */
  setns(fd: number, nstype: number): number;
  /** int close(int fd) */
  close(fd: number): number;
}

let table: NamespaceLibc | undefined;

/** Loaded on first use, like native/libc.ts; errors go through native's check() (koffi's errno is per thread, not per table). */
export function getNamespaceLibc(): NamespaceLibc {
  if (table) return table;
  const lib = koffiModule().load('libc.so.6');
  table = {
    open: lib.func('int open(const char *pathname, int flags)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    close: lib.func('int close(int fd)'),
  } as NamespaceLibc;
  return table;
}
