import { Counter, Gauge, type Registry } from 'prom-client';

/** One upstream's entry in the pool's stats snapshot. Only the fields read here are typed. */
export interface PoolUpstreamSnapshot {
  /** "10.0.0.2:8080"; when absent, the snapshot's record key is used. */
  upstream?: string;
  ready?: number;
  pending?: number;
  hits?: number;
  misses?: number;
  synsSent?: number;
  /** Latest (or smoothed) SYN-ACK round trip, milliseconds. */
  synAckRtt?: number;
  synAckRttMs?: number;
  [field: string]: unknown;
}

/** What attachPoolMetrics needs from the pool manager: events plus a plain snapshot. */
export interface PoolStatsEmitter {
  on(event: string, listener: (event?: unknown) => void): unknown;
  off?(event: string, listener: (event?: unknown) => void): unknown;
  snapshot(): readonly PoolUpstreamSnapshot[] | Readonly<Record<string, PoolUpstreamSnapshot>>;
}

function labelOf(event: unknown): string {
  if (event === null || typeof event !== 'object') return 'unknown';
  const e = event as { upstream?: unknown; target?: { address?: unknown; port?: unknown } };
  if (typeof e.upstream === 'string') return e.upstream;
  if (e.target !== undefined && typeof e.target.address === 'string') return `${e.target.address}:${String(e.target.port)}`;
  return 'unknown';
}

function reasonOf(event: unknown): string {
  const r = (event as { reason?: unknown } | null)?.reason;
  return typeof r === 'string' ? r : 'unknown';
}

function entries(snapshot: ReturnType<PoolStatsEmitter['snapshot']>): [string, PoolUpstreamSnapshot][] {
  if (Array.isArray(snapshot)) {
    return (snapshot as readonly PoolUpstreamSnapshot[]).map((s, i) => [s.upstream ?? String(i), s]);
  }
  return Object.entries(snapshot as Record<string, PoolUpstreamSnapshot>).map(([k, s]) => [s.upstream ?? k, s]);
}

/**
 * Pool metrics: counters from the pool's events ('hit', 'miss', 'syn-sent',
 * 'entry-evicted'), gauges read from snapshot() at scrape time (collect()).
 * Returns a function that unsubscribes from the events.
 */
export function attachPoolMetrics(registry: Registry, pool: PoolStatsEmitter): () => void {
  const hits = new Counter({ name: 'synpool_pool_hits_total', help: 'Pooled connections handed out', labelNames: ['upstream'] as const, registers: [registry] });
  const misses = new Counter({ name: 'synpool_pool_misses_total', help: 'Connection requests the pool could not serve', labelNames: ['upstream'] as const, registers: [registry] });
  const syns = new Counter({ name: 'synpool_pool_syns_sent_total', help: 'SYNs sent to fill the pool', labelNames: ['upstream'] as const, registers: [registry] });
  const evicted = new Counter({
    name: 'synpool_pool_entries_evicted_total',
    help: 'Half-open entries dropped, by reason',
    labelNames: ['upstream', 'reason'] as const,
    registers: [registry],
  });
  const gauge = (name: string, help: string, read: (s: PoolUpstreamSnapshot) => number | undefined): Gauge<'upstream'> =>
    new Gauge({
      name,
      help,
      labelNames: ['upstream'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const [upstream, s] of entries(pool.snapshot())) {
          const v = read(s);
          if (typeof v === 'number' && Number.isFinite(v)) this.set({ upstream }, v);
        }
      },
    });
  gauge('synpool_pool_ready', 'Half-open entries ready to hand out', (s) => s.ready);
  gauge('synpool_pool_pending', 'SYNs sent, SYN-ACK not yet received', (s) => s.pending);
  gauge('synpool_pool_synack_rtt_seconds', 'SYN-ACK round trip', (s) => {
    const ms = s.synAckRttMs ?? s.synAckRtt;
    return typeof ms === 'number' ? ms / 1000 : undefined;
  });

  const listeners: [string, (e?: unknown) => void][] = [
    ['hit', (e) => hits.inc({ upstream: labelOf(e) })],
    ['miss', (e) => misses.inc({ upstream: labelOf(e) })],
    ['syn-sent', (e) => syns.inc({ upstream: labelOf(e) })],
    ['entry-evicted', (e) => evicted.inc({ upstream: labelOf(e), reason: reasonOf(e) })],
  ];
  for (const [event, fn] of listeners) pool.on(event, fn);
  return () => {
    for (const [event, fn] of listeners) pool.off?.(event, fn);
  };
}
