import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { endpointKey } from '../handshake/endpoint.js';
import type { PoolManager } from '../pool/pool-manager.js';
import type { PoolEvents, PoolSnapshot } from '../pool/pool-events.js';
import type { PoolConnectionSource } from '../proxy/pool-source.js';

/** Seconds buckets for sub-millisecond to a second: SYN-ACK RTTs (ms..s) and handoffs (µs). */
const RTT_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const HANDOFF_BUCKETS_S = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01];

/**
 * Pool metrics: counters and histograms from the pool's events, gauges read
 * from snapshot() at scrape time. Returns a function that unsubscribes.
 */
export function attachPoolMetrics(registry: Registry, pool: PoolManager, source?: PoolConnectionSource): () => void {
  const labelNames = ['upstream'] as const;
  const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers: [registry] });
  const hits = counter('synpool_pool_hits_total', 'Pooled connections handed out');
  const agedHits = counter(
    'synpool_pool_hits_aged_total',
    'Pooled connections handed out past pool.maxSynAckRetransmits because no younger entry was ready (the server starts them with a congestion window of 1); included in synpool_pool_hits_total',
  );
  const misses = new Counter({ name: 'synpool_pool_misses_total', help: 'Connection requests the pool could not serve, by reason', labelNames: ['upstream', 'reason'] as const, registers: [registry] });
  const syns = new Counter({ name: 'synpool_pool_syns_sent_total', help: 'SYNs sent, by purpose', labelNames: ['upstream', 'purpose'] as const, registers: [registry] });
  const expired = counter('synpool_pool_entries_expired_total', 'Entries that reached their TTL unused');
  const evicted = new Counter({ name: 'synpool_pool_entries_evicted_total', help: 'Half-open entries dropped, by reason', labelNames: ['upstream', 'reason'] as const, registers: [registry] });
  const synFailed = new Counter({ name: 'synpool_pool_syn_failures_total', help: 'SYNs that got no usable answer, by reason', labelNames: ['upstream', 'reason'] as const, registers: [registry] });
  const rtt = new Histogram({ name: 'synpool_synack_rtt_seconds', help: 'SYN-ACK round trip of new entries', labelNames, buckets: RTT_BUCKETS_S, registers: [registry] });
  const handoff = new Histogram({ name: 'synpool_handoff_duration_seconds', help: 'Time a request waited for a pooled connection (TCP_REPAIR handoff)', labelNames, buckets: HANDOFF_BUCKETS_S, registers: [registry] });

  const gauge = (name: string, help: string, read: (s: PoolSnapshot) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of pool.snapshot()) {
          const v = read(s);
          if (v !== null && Number.isFinite(v)) this.set({ upstream: s.upstream }, v);
        }
      },
    });
  gauge('synpool_pool_ready', 'Half-open entries ready to hand out', (s) => s.ready);
  gauge('synpool_pool_pending', 'SYNs sent, SYN-ACK not yet received', (s) => s.pending);
  gauge('synpool_pool_target', 'Ready entries the pool refills to (computed from demand, clamped)', (s) => s.targetReady);
  gauge('synpool_pool_demand_per_second', 'Measured rate of pool requests', (s) => s.demandPerSec);
  gauge('synpool_pool_burst_peak', 'Largest burst of pool requests within one refill time remembered (pool.burstMemoryMs): demand sizing keeps at least this many', (s) => s.burstPeak);
  gauge('synpool_pool_effective_ttl_seconds', 'Entry lifetime in use (learned from the upstream)', (s) => s.effectiveTtlMs / 1000);
  gauge('synpool_pool_retransmits_trusted', '1 while a missing SYN-ACK retransmit counts as a dead entry (the upstream was seen retransmitting); 0 e.g. against SYN cookies', (s) => (s.retransmitsTrusted ? 1 : 0));
  new Counter({
    name: 'synpool_syn_channel_drops_total',
    help: 'Packets the kernel dropped on the raw SYN channel (its receive buffer was full): answers to SYNs that may have been lost; their timeouts are not held against the upstream',
    registers: [registry],
    collect() {
      const drops = pool.channelDrops();
      if (drops === undefined) return;
      // A counter the kernel keeps; mirror it (reset + inc is prom-client's way to set a counter).
      this.reset();
      this.inc(drops);
    },
  });
  gauge('synpool_pool_paused', '1 while passive health has the address\'s server ejected: the pool sends no SYN (ready entries still serve until their TTL)', (s) => (s.paused ? 1 : 0));
  gauge('synpool_pool_upstream_reachable', '1 when the upstream answers SYNs, 0 in backoff or unreachable', (s) => (s.state === 'ok' ? 1 : 0));

  const off: Array<() => void> = [];
  const on = <K extends keyof PoolEvents>(event: K, fn: (...args: PoolEvents[K]) => void): void => {
    pool.on(event, fn as never);
    off.push(() => pool.off(event, fn as never));
  };
  on('hit', (e) => {
    hits.inc({ upstream: e.upstream });
    if (!e.fullWindow) agedHits.inc({ upstream: e.upstream });
  });
  on('miss', (e) => misses.inc({ upstream: e.upstream, reason: e.reason }));
  on('syn-sent', (e) => syns.inc({ upstream: e.upstream, purpose: e.purpose }));
  on('entry-expired', (e) => expired.inc({ upstream: e.upstream }));
  on('entry-evicted', (e) => evicted.inc({ upstream: e.upstream, reason: e.reason }));
  on('syn-failed', (e) => synFailed.inc({ upstream: e.upstream, reason: e.reason }));
  on('entry-ready', (e) => rtt.observe({ upstream: e.upstream }, e.rttMs / 1000));
  if (source) {
    const onHandoff = (e: { target: { address: string; port: number }; us: number }) =>
      handoff.observe({ upstream: endpointKey(e.target) }, e.us / 1e6);
    source.on('handoff', onHandoff);
    off.push(() => source.off('handoff', onHandoff));
  }
  return () => {
    for (const f of off) f();
  };
}

/** 1 when new connections come from the half-open pool, 0 when acceleration is off (flag, or a missing capability). */
export function registerAccelerationGauge(registry: Registry, enabled: boolean): void {
  new Gauge({ name: 'synpool_acceleration_enabled', help: 'Whether new upstream connections come from the half-open pool', registers: [registry] }).set(enabled ? 1 : 0);
}
