import { Histogram, type Registry } from 'prom-client';
import type { AcceleratedAgent } from '../proxy/accelerated-agent.js';
import type { TlsHandshakeEvent } from '../proxy/tls-handshake.js';

/** Seconds: a TLS handshake is at least one round trip (ms on a LAN … s across the world). */
const TLS_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The TLS handshake time of new upstream connections, by where the TCP connection came from
 * and whether the session was resumed. Kept apart from synpool_handoff_duration_seconds: the
 * handoff is local work (µs), the TLS handshake a round trip. Returns an unsubscribe.
 */
export function attachTlsMetrics(registry: Registry, agent: AcceleratedAgent): () => void {
  const handshake = new Histogram({
    name: 'synpool_tls_handshake_duration_seconds',
    help: 'TLS handshake on a new upstream connection (ClientHello to verified), by TCP connection source and resumption',
    labelNames: ['connection', 'resumed'] as const,
    buckets: TLS_BUCKETS_S,
    registers: [registry],
  });
  const onHandshake = (e: TlsHandshakeEvent): void => {
    handshake.observe({ connection: e.connection, resumed: String(e.resumed) }, e.ms / 1000);
  };
  agent.events.on('tls-handshake', onHandshake);
  return () => agent.events.off('tls-handshake', onHandshake);
}
