import { errorCode } from './retry-policy.js';

export interface UpstreamErrorResponse {
  status: 502 | 504;
  /** Short text body for the client. */
  message: string;
  /** The error's code, for logs and metrics. */
  code: string;
}

const TIMEOUTS: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'upstream connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'upstream did not answer in time',
  UND_ERR_BODY_TIMEOUT: 'upstream stalled while sending the body',
};

/** Nothing listens, or nothing can be reached: the server (or the way to it) is down. */
export const REFUSED_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * OpenSSL's verification results as Node names them (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE,
 * DEPTH_ZERO_SELF_SIGNED_CERT, …) and Node's own name check. The code is the reason, in the log line.
 */
function isCertificateError(code: string): boolean {
  return code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|INVALID_CA|PATH_LENGTH_|HOSTNAME_MISMATCH)/.test(code);
}

/** Every upstream failure maps to exactly one status: timeouts → 504, everything else → 502. */
export function upstreamErrorResponse(err: unknown): UpstreamErrorResponse {
  const code = errorCode(err) ?? 'UNKNOWN';
  const timeout = TIMEOUTS[code];
  if (timeout !== undefined) return { status: 504, message: timeout, code };
  if (REFUSED_CODES.has(code)) return { status: 502, message: 'upstream refused the connection', code };
  if (isCertificateError(code)) return { status: 502, message: 'upstream certificate rejected', code };
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return { status: 502, message: 'upstream TLS handshake failed', code };
  return { status: 502, message: 'upstream connection failed', code };
}
