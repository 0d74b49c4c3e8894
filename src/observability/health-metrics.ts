import { Counter, Gauge, type Registry } from 'prom-client';
import type { RequestRouter } from '../proxy/request-router.js';
import type { PassiveHealth } from '../routing/passive-health.js';

/**
 * `synpool_server_available{upstream,server}` (1 unless ejected; read from the routing in
 * force at scrape time) and `synpool_server_ejections_total{server}`. Returns an unsubscribe.
 */
export function attachHealthMetrics(registry: Registry, health: PassiveHealth, router: () => RequestRouter): () => void {
  new Gauge({
    name: 'synpool_server_available',
    // Each worker judges its servers alone: the aggregate says 0 while any of them has one ejected.
    aggregator: 'min',
    help: 'Whether a server takes requests: 1, or 0 while passive health has it ejected',
    labelNames: ['upstream', 'server'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const group of router().upstreams.values()) {
        for (const s of group.servers) this.set({ upstream: group.name, server: s.key }, s.available ? 1 : 0);
      }
    },
  });
  const ejections = new Counter({
    name: 'synpool_server_ejections_total',
    help: 'Times passive health ejected a server (consecutive connect failures or resets)',
    labelNames: ['server'] as const,
    registers: [registry],
  });
  const onEjected = (e: { key: string }): void => ejections.inc({ server: e.key });
  health.on('ejected', onEjected);
  return () => health.off('ejected', onEjected);
}
