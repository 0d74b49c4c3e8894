import type { Logger } from 'pino';
import { endpointKey } from '../handshake/endpoint.js';
import type { AddressChange, ResolveFailure, UpstreamAddresses } from '../resolve/upstream-addresses.js';

/**
 * Logs an upstream name's changes of address (each one moves a pool) and
 * failed look-ups (the last good addresses stay in use). Failures repeat
 * every interval while the resolver is down: the first of a run is a
 * warning, the rest debug, and the recovery is logged. Returns an unsubscribe.
 */
export function attachResolveLog(logger: Logger, addresses: UpstreamAddresses): () => void {
  let failing = 0;
  const change = (e: AddressChange): void => {
    failing = 0;
    logger.info(
      { hostname: e.hostname, added: e.added.map(endpointKey), removed: e.removed.map(endpointKey), addresses: e.current.map(endpointKey) },
      'upstream addresses changed',
    );
  };
  const failed = (e: ResolveFailure): void => {
    failing++;
    const fields = { hostname: e.hostname, error: e.error, kept: e.kept.map(endpointKey), consecutiveFailures: failing };
    if (failing === 1) logger.warn(fields, 'upstream name did not resolve; keeping its last addresses');
    else logger.debug(fields, 'upstream name did not resolve; keeping its last addresses');
  };
  addresses.on('change', change);
  addresses.on('resolve-failed', failed);
  return () => {
    addresses.off('change', change);
    addresses.off('resolve-failed', failed);
  };
}
