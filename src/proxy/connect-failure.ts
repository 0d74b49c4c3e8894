import { errorCode } from './retry-policy.js';
import { REFUSED_CODES } from './upstream-error.js';

/** undici's ConnectTimeoutError, and the connector's own. */
const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';

/**
 * The connection to the server was never made (refused, unreachable, timed out):
 * nothing of the request reached it, so it may go to another server whatever its
 * method. A TLS or certificate failure is not one of these (the server answered; it
 * is a configuration matter another server would share).
 */
export function connectFailed(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && (REFUSED_CODES.has(code) || code === CONNECT_TIMEOUT);
}
