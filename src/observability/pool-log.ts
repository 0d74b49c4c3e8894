import type { Logger } from 'pino';
import type { PoolManager } from '../pool/pool-manager.js';

/**
 * Logs what an operator should see of the pool: upstream state changes,
 * pauses while passive health has the server ejected, learned TTLs, and SYN answers lost on our own side (the raw channel's
 * receive buffer was full: a host problem, not the upstream's). Returns an
 * unsubscribe.
 */
export function attachPoolLog(logger: Logger, pool: PoolManager): () => void {
  const state = (e: { upstream: string; from: string; to: string; consecutiveFailures: number; nextAttemptInMs: number }) => {
    const level = e.to === 'ok' ? 'info' : 'warn';
    logger[level]({ upstream: e.upstream, from: e.from, to: e.to, consecutiveFailures: e.consecutiveFailures, nextAttemptInMs: e.nextAttemptInMs }, 'pool upstream state');
  };
  const ttl = (e: { upstream: string; previousTtlMs: number; ttlMs: number; reason: string }) =>
    logger.info({ upstream: e.upstream, previousTtlMs: e.previousTtlMs, ttlMs: e.ttlMs, reason: e.reason }, 'pool entry TTL learned');
  // Lost answers come in bursts: log the 1st, 2nd, 4th, 8th … per upstream, so
  // a flood costs a log line per doubling, not one per SYN.
  const dropped = new Map<string, number>();
  const failed = (e: { upstream: string; reason: string }) => {
    if (e.reason !== 'answer-dropped') return;
    const n = (dropped.get(e.upstream) ?? 0) + 1;
    dropped.set(e.upstream, n);
    if ((n & (n - 1)) === 0) {
      logger.warn(
        { upstream: e.upstream, answerDropped: n },
        'SYN answers lost on the raw SYN channel (its receive buffer was full); not counted against the upstream, see synpool_syn_channel_drops_total',
      );
    }
  };
  // Passive health ejected (paused) or readmitted (resumed) the address's server: no SYN leaves a paused pool.
  const paused = (e: { upstream: string; paused: boolean }) =>
    logger.info(
      { upstream: e.upstream, paused: e.paused },
      e.paused ? 'pool paused: its server is ejected, no SYN is sent until it is readmitted' : 'pool resumed: its server is readmitted',
    );
  pool.on('upstream-state', state);
  pool.on('paused', paused);
  pool.on('ttl-learned', ttl);
  pool.on('syn-failed', failed);
  return () => {
    pool.off('upstream-state', state);
    pool.off('paused', paused);
    pool.off('ttl-learned', ttl);
    pool.off('syn-failed', failed);
  };
}
