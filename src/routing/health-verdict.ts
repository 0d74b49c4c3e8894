import { CONNECTION_LOST_CODES, errorCode, isPooledReset } from '../proxy/retry-policy.js';
import { REFUSED_CODES } from '../proxy/upstream-error.js';

/** What a failed request says about its server, for PassiveHealth. */
export type HealthVerdict = 'failed' | 'abandoned';

// A connect that timed out, and the pool's own SYN failures, say the same as a refusal.
const CONNECT_FAILURES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'SYNPOOL_ERR_HANDSHAKE_TIMEOUT', 'SYNPOOL_ERR_HANDSHAKE_REFUSED']);

/**
 * 'failed' for a connect failure (refused, unreachable, timed out) or a connection
 * reset under the request; 'abandoned' for everything else: a pooled entry the server
 * had forgotten (the pool's stale entry, not the server's fault; the request is
 * replayed), a slow answer (headers or body timeout: alive, only slow), a certificate
 * or TLS error (configuration: ejecting the server would not fix it).
 */
export function healthVerdict(err: unknown): HealthVerdict {
  if (isPooledReset(err)) return 'abandoned';
  const code = errorCode(err);
  if (code === undefined) return 'abandoned';
  return REFUSED_CODES.has(code) || CONNECTION_LOST_CODES.has(code) || CONNECT_FAILURES.has(code) ? 'failed' : 'abandoned';
}
