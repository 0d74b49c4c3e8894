import { Counter, Gauge, type Registry } from 'prom-client';
import type { UpstreamAddresses } from '../resolve/upstream-addresses.js';

/**
 * `synpool_upstream_addresses{hostname}`: addresses in use (one pool each);
 * `synpool_resolve_failures_total{hostname}`: look-ups that failed or gave no
 * usable address (the last good set stayed). Returns an unsubscribe.
 */
export function attachResolveMetrics(registry: Registry, addresses: UpstreamAddresses): () => void {
  const labelNames = ['hostname'] as const;
  new Gauge({
    name: 'synpool_upstream_addresses',
    help: 'Addresses the upstream name resolves to and requests are spread over (each has its own pool)',
    labelNames,
    registers: [registry],
    collect() {
      this.set({ hostname: addresses.hostname }, addresses.current.length);
    },
  });
  const failures = new Counter({
    name: 'synpool_resolve_failures_total',
    help: 'Re-resolutions of the upstream name that failed or gave no usable address (the last good addresses stayed in use)',
    labelNames,
    registers: [registry],
  });
  failures.inc({ hostname: addresses.hostname }, 0);
  const failed = (): void => failures.inc({ hostname: addresses.hostname });
  addresses.on('resolve-failed', failed);
  return () => addresses.off('resolve-failed', failed);
}
