import type { Logger } from 'pino';
import type { PoolManager } from '../pool/pool-manager.js';

/** Logs what an operator should see of the pool: upstream state changes and learned TTLs. Returns an unsubscribe. */
export function attachPoolLog(logger: Logger, pool: PoolManager): () => void {
  const state = (e: { upstream: string; from: string; to: string; consecutiveFailures: number; nextAttemptInMs: number }) => {
    const level = e.to === 'ok' ? 'info' : 'warn';
    logger[level]({ upstream: e.upstream, from: e.from, to: e.to, consecutiveFailures: e.consecutiveFailures, nextAttemptInMs: e.nextAttemptInMs }, 'pool upstream state');
  };
  const ttl = (e: { upstream: string; previousTtlMs: number; ttlMs: number; reason: string }) =>
    logger.info({ upstream: e.upstream, previousTtlMs: e.previousTtlMs, ttlMs: e.ttlMs, reason: e.reason }, 'pool entry TTL learned');
  pool.on('upstream-state', state);
  pool.on('ttl-learned', ttl);
  return () => {
    pool.off('upstream-state', state);
    pool.off('ttl-learned', ttl);
  };
}
