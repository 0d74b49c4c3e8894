import { Counter, Gauge, type Registry } from 'prom-client';
import type { UpstreamAddresses } from '../resolve/upstream-addresses.js';

export interface ResolveMetrics {
  /** Counts this address set's failures and reports its size; returns what stops it (a reload replaces the set). */
  follow(addresses: UpstreamAddresses): () => void;
}

/**
 * `synpool_upstream_addresses{hostname}`: addresses in use (one pool each);
 * `synpool_resolve_failures_total{hostname}`: look-ups that failed or gave no
 * usable address (the last good set stayed). Registered once; the address
 * sets come and go with reloads.
 */
export function createResolveMetrics(registry: Registry): ResolveMetrics {
  const labelNames = ['hostname'] as const;
  const followed = new Set<UpstreamAddresses>();
  new Gauge({
    name: 'synpool_upstream_addresses',
    // Every process (the keeper, each worker) reports the same set: the aggregate takes one, not the sum.
    aggregator: 'max',
    help: 'Addresses the upstream name resolves to and requests are spread over (each has its own pool)',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const a of followed) this.set({ hostname: a.hostname }, a.current.length);
    },
  });
  const failures = new Counter({
    name: 'synpool_resolve_failures_total',
    help: 'Re-resolutions of the upstream name that failed or gave no usable address (the last good addresses stayed in use)',
    labelNames,
    registers: [registry],
  });
  return {
    follow(addresses) {
      followed.add(addresses);
      failures.inc({ hostname: addresses.hostname }, 0);
      const failed = (): void => failures.inc({ hostname: addresses.hostname });
      addresses.on('resolve-failed', failed);
      return () => {
        followed.delete(addresses);
        addresses.off('resolve-failed', failed);
      };
    },
  };
}
