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

const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);

/** Every upstream failure maps to exactly one status: timeouts → 504, everything else → 502. */
export function upstreamErrorResponse(err: unknown): UpstreamErrorResponse {
  const code = errorCode(err) ?? 'UNKNOWN';
  const timeout = TIMEOUTS[code];
  if (timeout !== undefined) return { status: 504, message: timeout, code };
  if (REFUSED.has(code)) return { status: 502, message: 'upstream refused the connection', code };
  return { status: 502, message: 'upstream connection failed', code };
}
