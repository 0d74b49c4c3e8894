// The kernel boundary's error type: what check() throws for a failed libc call.
// Its code stays in the registry in src/errors.ts, which re-exports this class.
import { SynpoolError } from './synpool-error.js';

/** A libc call failed; carries the call, errno and its symbolic name. */
export class SyscallError extends SynpoolError {
  readonly syscall: string;
  readonly errno: number;
  readonly errnoCode: string;

  constructor(syscall: string, errno: number, errnoCode: string) {
    super('SYNPOOL_ERR_SYSCALL', `${syscall} failed: ${errnoCode} (errno ${errno})`);
    this.syscall = syscall;
    this.errno = errno;
    this.errnoCode = errnoCode;
  }
}
