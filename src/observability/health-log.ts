import type { Logger } from 'pino';
import type { PassiveHealth } from '../routing/passive-health.js';

/** Logs passive health: a server ejected (warn), probing, restored. Returns an unsubscribe. */
export function attachHealthLog(logger: Logger, health: PassiveHealth): () => void {
  const ejected = (e: { key: string; failures: number; ejections: number; durationMs: number }): void =>
    logger.warn({ server: e.key, failures: e.failures, ejections: e.ejections, durationMs: e.durationMs }, 'server ejected');
  const probing = (e: { key: string }): void => logger.info({ server: e.key }, 'server probing');
  const restored = (e: { key: string; ejectedMs: number }): void => logger.info({ server: e.key, ejectedMs: Math.round(e.ejectedMs) }, 'server restored');
  health.on('ejected', ejected);
  health.on('probing', probing);
  health.on('restored', restored);
  return () => {
    health.off('ejected', ejected);
    health.off('probing', probing);
    health.off('restored', restored);
  };
}
