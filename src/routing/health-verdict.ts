import { connectFailed } from '../proxy/connect-failure.js';
import { CONNECTION_LOST_CODES, errorCode, isPooledReset } from '../proxy/retry-policy.js';

/** What a failed request says about its server, for PassiveHealth. */
export type HealthVerdict = 'failed' | 'abandoned';

// The pool's own SYN failures say the same as a refused or timed-out connect.
const HANDSHAKE_FAILURES = new Set(['SYNPOOL_ERR_HANDSHAKE_TIMEOUT', 'SYNPOOL_ERR_HANDSHAKE_REFUSED']);

/**
 * 'failed' for a connect failure (refused, unreachable, timed out) or a connection
 * reset under the request; 'abandoned' for everything else: a pooled entry the server
 * had forgotten (the pool's stale entry, not the server's fault; the request is
 * replayed), a slow answer (headers or body timeout: alive, only slow), a certificate
 * or TLS error (configuration: ejecting the server would not fix it).
 */
export function healthVerdict(err: unknown): HealthVerdict {
  if (isPooledReset(err)) return 'abandoned';
  if (connectFailed(err)) return 'failed';
  const code = errorCode(err);
  return code !== undefined && (CONNECTION_LOST_CODES.has(code) || HANDSHAKE_FAILURES.has(code)) ? 'failed' : 'abandoned';
}
