// The keeper's socket and the workers' side of it, seen from logs and metrics.
// The core emits; these subscribe (as pool-log and pool-metrics do for the pool).
import { Counter, Histogram, type Registry } from 'prom-client';
import { endpointKey } from '../handshake/endpoint.js';
import type { KeeperServer } from '../keeper/keeper-server.js';
import type { KeeperConnectionSource } from '../keeper/keeper-source.js';
import type { Logger } from './logger.js';

/** Seconds, for the keeper's part of a handoff (request line in → fd sent): tens of µs to a millisecond. */
const KEEPER_BUCKETS_S = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01];

export function attachKeeperLog(logger: Logger, server: KeeperServer): () => void {
  const onRefused = (e: { code: string; host: string | undefined; port: number | undefined; message: string }): void => {
    // POOL_EMPTY is routine (the client connects plainly); the others say a client asked for something wrong.
    if (e.code === 'POOL_EMPTY') logger.debug(e, 'keeper: pool empty');
    else logger.warn(e, `keeper refused a request: ${e.code}`);
  };
  const onSendFailed = (e: { reason: string; entry: number | undefined }): void => logger.warn(e, 'keeper could not hand a connection over; its client is gone');
  const onError = (err: Error): void => logger.error({ err }, 'keeper socket failed');
  server.on('refused', onRefused);
  server.on('send-failed', onSendFailed);
  server.on('error', onError);
  return () => {
    server.off('refused', onRefused);
    server.off('send-failed', onSendFailed);
    server.off('error', onError);
  };
}

export function attachKeeperMetrics(registry: Registry, server: KeeperServer): () => void {
  const served = new Histogram({
    name: 'synpool_keeper_handoff_duration_seconds',
    help: 'Keeper: a connect request read to its socket sent (pool handoff + SCM_RIGHTS)',
    labelNames: ['upstream'] as const,
    buckets: KEEPER_BUCKETS_S,
    registers: [registry],
  });
  const refused = new Counter({ name: 'synpool_keeper_refused_total', help: 'Keeper requests answered without a socket, by code', labelNames: ['code'] as const, registers: [registry] });
  const dead = new Counter({ name: 'synpool_keeper_dead_reports_total', help: 'Handed-off sockets a client reported reset on first use', registers: [registry] });
  const failed = new Counter({ name: 'synpool_keeper_send_failures_total', help: 'Keeper replies that could not be sent (client gone); the socket was closed', registers: [registry] });
  const onServed = (e: { target: Parameters<typeof endpointKey>[0]; us: number }): void => served.observe({ upstream: endpointKey(e.target) }, e.us / 1e6);
  const onRefused = (e: { code: string }): void => refused.inc({ code: e.code });
  const onDead = (): void => dead.inc();
  const onFailed = (): void => failed.inc();
  server.on('served', onServed);
  server.on('refused', onRefused);
  server.on('dead', onDead);
  server.on('send-failed', onFailed);
  return () => {
    server.off('served', onServed);
    server.off('refused', onRefused);
    server.off('dead', onDead);
    server.off('send-failed', onFailed);
  };
}

/** A worker: its connection to the keeper (lost, back) in the log; timeouts counted. */
export function attachKeeperClientObservers(logger: Logger, registry: Registry, source: KeeperConnectionSource): () => void {
  const timeouts = new Counter({ name: 'synpool_keeper_request_timeouts_total', help: 'Workers: keeper requests that timed out (the request connected plainly)', registers: [registry] });
  let lost = false;
  const onConnected = (e: { accelerated: boolean; targets: readonly string[] }): void => {
    if (lost) logger.info({ accelerated: e.accelerated }, 'keeper connection back');
    lost = false;
  };
  const onDisconnected = (e: { reason: string }): void => {
    // 'closed': this worker closed it itself (shutdown), nothing was lost.
    if (e.reason === 'closed') return;
    if (!lost) logger.warn(e, 'keeper connection lost: plain connects until it is back');
    lost = true;
  };
  const held = new Counter({
    name: 'synpool_worker_held_connections_total',
    help: 'Workers: held connections received from the keeper ahead of requests, used by a request, or given up unused (RST)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Children looked up once: a 'used' comes on the request path, and inc() by labels hashes them each time.
  const heldBy = { received: held.labels('received'), used: held.labels('used'), discarded: held.labels('discarded') };
  for (const child of Object.values(heldBy)) child.inc(0);
  const skipped = new Counter({
    name: 'synpool_worker_keeper_skipped_total',
    help: "Workers: requests that connected plainly without asking the keeper, its latest ready count (less this worker's asks in flight) leaving nothing",
    registers: [registry],
  });
  const onTimeout = (): void => timeouts.inc();
  const onSkipped = (): void => skipped.inc();
  const onHeld = (e: { outcome: 'received' | 'used' | 'discarded' }): void => heldBy[e.outcome].inc();
  source.on('connected', onConnected);
  source.on('disconnected', onDisconnected);
  source.on('timeout', onTimeout);
  source.on('skipped', onSkipped);
  source.on('held', onHeld);
  return () => {
    source.off('connected', onConnected);
    source.off('disconnected', onDisconnected);
    source.off('timeout', onTimeout);
    source.off('skipped', onSkipped);
    source.off('held', onHeld);
  };
}
