import { endpointKey, type Endpoint } from '../handshake/endpoint.js';
import type { PoolSettings } from '../pool/pool-config.js';
import type { AddressChange, UpstreamAddresses } from '../resolve/upstream-addresses.js';
import type { ConnectionSource } from './connection-source.js';
import type { OriginBalancer } from './origin-balancer.js';

export interface AddressFollowerParts {
  readonly addresses: UpstreamAddresses;
  readonly balancer: OriginBalancer;
  readonly source: ConnectionSource;
  /** The upstream origin of one address ("https://[fd00::2]:443"). */
  readonly originOf: (endpoint: Endpoint) => string;
  /** Closes an origin's keep-alive connections once their requests finish. */
  readonly retireOrigin: (origin: string) => Promise<void>;
  /**
   * The pool settings a new address gets (its upstream's), or a function of the name's
   * current addresses: the share of the upstream's pool budget depends on how many
   * addresses the server has (src/pool/pool-split.ts), so it changes with them.
   */
  readonly settings?: PoolSettings | ((current: readonly Endpoint[]) => PoolSettings);
}

/**
 * Makes the proxy follow its upstream name's resolution: a new address gets
 * a pool (allowed on the raw channel first) and then requests; an address
 * that disappeared takes no new request at once, its pool is released with
 * RSTs and leaves the allowlist, and its connections close when their
 * requests are done. Returns a function that stops following.
 */
export function followAddresses(parts: AddressFollowerParts): () => void {
  const { addresses, balancer, source } = parts;
  const onChange = (change: AddressChange): void => {
    // Pools before requests for a new address; requests off before the pool goes for an old one.
    const given = parts.settings;
    const settings = typeof given === 'function' ? given(change.current) : given;
    if (typeof given === 'function' && settings !== undefined && source.syncTargets !== undefined) {
      // The address count changed, so every address's share did: new addresses get
      // pools, the others are resized in place (no restart, no RST, learning kept).
      source.syncTargets(new Map(change.current.map((e) => [endpointKey(e), { target: e, settings }])), false);
    } else {
      for (const endpoint of change.added) source.addTarget?.(endpoint, settings);
    }
    balancer.set(change.current);
    for (const endpoint of change.removed) {
      source.removeTarget?.(endpoint);
      void parts.retireOrigin(parts.originOf(endpoint));
    }
  };
  addresses.on('change', onChange);
  return () => addresses.off('change', onChange);
}
