// Every error synpool raises: one base class, a stable `code` per subclass.
// The registry below is the single list of codes; README's error table is
// checked against it by test/unit/errors.test.ts.

// The base class and the syscall error live in native/ (the kernel boundary
// owns its error type, and native/ never imports from src/); re-exported here
// so that every code stays in one registry.
import { SynpoolError } from '../native/synpool-error.js';
export { SynpoolError } from '../native/synpool-error.js';
export { SyscallError } from '../native/syscall-error.js';

/** The process lacks a capability the accelerated path needs. */
export class CapabilityError extends SynpoolError {
  readonly capability: 'CAP_NET_RAW' | 'CAP_NET_ADMIN';
  constructor(capability: 'CAP_NET_RAW' | 'CAP_NET_ADMIN', what: string, cause?: unknown) {
    super('SYNPOOL_ERR_CAPABILITY', `${what} needs ${capability} (run as root, or grant ${capability})`, { cause });
    this.capability = capability;
  }
}

/** No SYN-ACK came back in time. */
export class HandshakeTimeoutError extends SynpoolError {
  constructor(target: string, timeoutMs: number) {
    super('SYNPOOL_ERR_HANDSHAKE_TIMEOUT', `no SYN-ACK from ${target} within ${timeoutMs} ms`, { retriable: true });
  }
}

/** The upstream answered our SYN with a RST: nothing listens on that port. */
export class HandshakeRefusedError extends SynpoolError {
  constructor(target: string) {
    super('SYNPOOL_ERR_HANDSHAKE_REFUSED', `${target} refused the connection (RST in answer to SYN)`, { retriable: true });
  }
}

/** A half-open entry was used in a state that does not allow it (not yet answered, already used, released). */
export class EntryStateError extends SynpoolError {
  constructor(target: string, state: string, wanted: string) {
    super('SYNPOOL_ERR_ENTRY_STATE', `half-open entry to ${target} is ${state}, needs ${wanted}`);
  }
}

/**
 * The upstream reset a handed-off connection before acknowledging any byte of
 * ours: it had forgotten the half-open entry. Safe to retry on a fresh connection.
 */
export class PooledConnectionResetError extends SynpoolError {
  constructor(target: string, cause?: unknown) {
    super(
      'SYNPOOL_ERR_POOLED_RESET',
      `${target} reset a pooled connection before acknowledging any data (entry forgotten by the server)`,
      { cause, retriable: true },
    );
  }
}

/** Only configured upstreams may be sent a SYN. */
export class TargetNotAllowedError extends SynpoolError {
  constructor(target: string) {
    super('SYNPOOL_ERR_TARGET_NOT_ALLOWED', `${target} is not a configured upstream; refusing to send it a SYN`);
  }
}

/** Input that cannot be used: an address that is not IPv4, a port out of range, a bad URL. */
export class InvalidArgumentError extends SynpoolError {
  constructor(message: string) {
    super('SYNPOOL_ERR_INVALID_ARGUMENT', message);
  }
}

/** A configuration value is wrong; names the field, the value and what is allowed. */
export class ConfigError extends SynpoolError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('SYNPOOL_ERR_CONFIG', `config ${field}: ${message}`);
    this.field = field;
  }
}

// errno codes a listener commonly fails with, as a reader would say them.
const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this host',
  EACCES: 'permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE)',
  EPERM: 'operation not permitted',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
};

/** A listener (the client front or the metrics endpoint) could not bind; names the address and why. */
export class ListenError extends SynpoolError {
  /** The config key of the listener: `listen` or `metricsListen`. */
  readonly field: string;
  readonly address: string;
  /** The errno code from the failed listen (EADDRINUSE…), if there was one. */
  readonly errnoCode: string | undefined;
  constructor(field: string, host: string, port: number, cause: unknown) {
    const errnoCode = (cause as NodeJS.ErrnoException | undefined)?.code;
    const reason = (errnoCode !== undefined ? LISTEN_REASONS[errnoCode] : undefined) ?? errnoCode ?? String(cause);
    super('SYNPOOL_ERR_LISTEN', `cannot listen on ${host}:${port} (${field}): ${reason}`, { cause });
    this.field = field;
    this.address = `${host}:${port}`;
    this.errnoCode = errnoCode;
  }
}

/** A worker found it still holds a privilege (a capability, root, a raw socket): it refuses to serve. */
export class PrivilegeError extends SynpoolError {
  constructor(report: string) {
    super('SYNPOOL_ERR_PRIVILEGES', `a worker must hold no privilege, and this one does: ${report}`);
  }
}

/** The keeper or a worker could not start (exited, or was not ready in time). */
export class ProcessStartError extends SynpoolError {
  readonly role: string;
  constructor(role: string, reason: string) {
    super('SYNPOOL_ERR_PROCESS', `${role} ${reason}`);
    this.role = role;
  }
}

export const ERROR_CODES = [
  'SYNPOOL_ERR_SYSCALL',
  'SYNPOOL_ERR_CAPABILITY',
  'SYNPOOL_ERR_HANDSHAKE_TIMEOUT',
  'SYNPOOL_ERR_HANDSHAKE_REFUSED',
  'SYNPOOL_ERR_ENTRY_STATE',
  'SYNPOOL_ERR_POOLED_RESET',
  'SYNPOOL_ERR_TARGET_NOT_ALLOWED',
  'SYNPOOL_ERR_INVALID_ARGUMENT',
  'SYNPOOL_ERR_CONFIG',
  'SYNPOOL_ERR_LISTEN',
  'SYNPOOL_ERR_PRIVILEGES',
  'SYNPOOL_ERR_PROCESS',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
