import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/defaults.js';

export type { Logger };

/** JSON lines to stdout (or the given stream, e.g. an in-memory sink in tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'synpool' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination === undefined ? pino(options) : pino(options, destination);
}
