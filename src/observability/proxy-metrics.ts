import { Counter, Histogram, type Registry } from 'prom-client';
import type { AcceleratedAgent, FallbackEvent, RetryEvent } from '../proxy/accelerated-agent.js';
import type { ClientErrorRecord, ProxyServer, RequestRecord } from '../proxy/proxy-server.js';
import type { UpgradeRecord } from '../proxy/upgrade-exchange.js';
import { isTlsUpstream } from './tls-label.js';

/** Seconds; covers loopback (sub-ms) to slow upstreams. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function statusClass(status: number): string {
  return status === 499 ? 'aborted' : `${Math.floor(status / 100)}xx`;
}

/**
 * Request metrics from the proxy's and the agent's events: duration by connection
 * source, fallbacks by reason, retries, malformed requests. Returns an unsubscribe.
 */
export function attachProxyMetrics(registry: Registry, proxy: ProxyServer, agent?: AcceleratedAgent): () => void {
  const duration = new Histogram({
    name: 'synpool_request_duration_seconds',
    help: 'Client request duration, by the source of the upstream connection (reused, pool, plain, none)',
    labelNames: ['upstream', 'server', 'connection', 'status_class', 'tls'] as const,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const fallbacks = new Counter({
    name: 'synpool_fallbacks_total',
    help: 'New upstream connections that could have come from the pool but did not, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'synpool_upstream_retries_total',
    help: 'Requests replayed on a plain connection, by reason',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const clientErrors = new Counter({
    name: 'synpool_client_errors_total',
    help: 'Malformed client requests, by parser error code',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const upgrades = new Counter({
    name: 'synpool_upgrades_total',
    help: 'Connection: Upgrade requests (WebSocket…) by outcome: tunneled (101), refused (upstream answered without switching), failed',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  const onRequest = (r: RequestRecord): void => {
    // A tunnel's record spans its whole life (minutes): counted in synpool_upgrades_total instead.
    if (r.status === 101) return;
    duration.observe(
      { upstream: r.upstream, server: r.server ?? '', connection: r.connection, status_class: statusClass(r.status), tls: String(isTlsUpstream(r)) },
      r.durationMs / 1000,
    );
  };
  const onClientError = (e: ClientErrorRecord): void => clientErrors.inc({ code: e.code });
  const onUpgrade = (u: UpgradeRecord): void => upgrades.inc({ outcome: u.outcome });
  const onFallback = (e: FallbackEvent): void => fallbacks.inc({ reason: e.reason });
  const onRetry = (e: RetryEvent): void => retries.inc({ reason: e.reason });
  proxy.on('request', onRequest);
  proxy.on('client-error', onClientError);
  proxy.on('upgrade', onUpgrade);
  agent?.events.on('fallback', onFallback);
  agent?.events.on('retry', onRetry);
  return () => {
    proxy.off('request', onRequest);
    proxy.off('client-error', onClientError);
    proxy.off('upgrade', onUpgrade);
    agent?.events.off('fallback', onFallback);
    agent?.events.off('retry', onRetry);
  };
}
