import type { ReloadOutcome } from '../cli.js';
import type { Logger } from './logger.js';

/** The one line a reload leaves (and a warning naming the keys only a restart applies). */
export function logReloadOutcome(logger: Logger, outcome: ReloadOutcome): void {
  if (!outcome.ok) {
    logger.error({ error: outcome.error }, 'reload refused; still serving with the previous configuration');
    return;
  }
  logger.info({ changed: outcome.changed, restartNeeded: outcome.restartNeeded }, 'configuration reloaded');
  if (outcome.restartNeeded.length > 0) {
    logger.warn({ keys: outcome.restartNeeded }, `changed keys that only a restart applies: ${outcome.restartNeeded.join(', ')}`);
  }
}
