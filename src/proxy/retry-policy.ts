import type { ConnectionOrigin } from './connection-source.js';

export const POOLED_RESET_CODE = 'SYNPOOL_ERR_POOLED_RESET';

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Errors after which the upstream may never have seen the request: the connection broke under it. */
export const CONNECTION_LOST_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED']);

export function isIdempotent(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase());
}

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isPooledReset(err: unknown): boolean {
  return errorCode(err) === POOLED_RESET_CODE && (err as { retriable?: unknown }).retriable === true;
}

export type RetryReason = 'pooled-reset' | 'pooled-error' | 'connection-lost';

export interface AttemptOutcome {
  method: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Any byte of a response (status line included) arrived. */
  responded: boolean;
  /** The body can be sent again from its start. */
  bodyReplayable: boolean;
  /** Where the failed attempt's connection came from; undefined if it never got one. */
  origin: ConnectionOrigin | undefined;
}

/**
 * One retry at most, always on a plain connection:
 * - a pooled socket reset on first use (SYNPOOL_ERR_POOLED_RESET): nothing reached the
 *   upstream, so any method is replayed;
 * - a connection lost before any response byte: only idempotent methods.
 * Timeouts and refusals are not retried (the upstream may be slow or down; a retry
 * would only double the wait).
 */
export function retryReason(err: unknown, o: AttemptOutcome): RetryReason | undefined {
  if (o.attempt !== 1 || o.responded || !o.bodyReplayable) return undefined;
  if (isPooledReset(err)) return 'pooled-reset';
  if (o.origin === undefined || !isIdempotent(o.method)) return undefined;
  const code = errorCode(err);
  if (code === undefined || !CONNECTION_LOST_CODES.has(code)) return undefined;
  return o.origin === 'pool' ? 'pooled-error' : 'connection-lost';
}
