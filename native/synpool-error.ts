// The root of every error synpool raises. It lives here, in the lowest layer,
// so that the kernel boundary's own error (SyscallError) can be a SynpoolError
// without native/ importing from src/; src/errors.ts re-exports it.

export class SynpoolError extends Error {
  readonly code: string;
  /** True when nothing of a request reached the upstream, so it may be retried on another connection. */
  readonly retriable: boolean;

  constructor(code: string, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options?.retriable ?? false;
  }
}
