import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/defaults.js';

export type { Logger };

/**
 * JSON lines to stdout (or the given stream, e.g. an in-memory sink in tests).
 * stdout is written asynchronously (pino.destination sync: false): a request line costs a
 * string append, and lines that pile up while a write is in flight go out in one write.
 * pino flushes it synchronously when the process exits (process.exit included); call
 * logger.flush() to push out what is buffered earlier.
 */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'synpool' }, timestamp: pino.stdTimeFunctions.isoTime };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
