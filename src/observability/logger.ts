import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/defaults.js';

export type { Logger };

/** Below SonicBoom's maxWrite (16 KiB): a turn that logs more than this writes as it goes. */
const BATCH_BYTES = 8 * 1024;

/**
 * stdout for the log: the lines of one event-loop turn go out together, in one
 * write(2) at the end of the turn (setImmediate), instead of one synchronous write per
 * line (pino's default) or one thread-pool write per line (`sync: false`, which
 * measured no better on the request path). A line waits at most until the end of the
 * turn that logged it. The writes stay synchronous, so nothing is in flight when the
 * process exits; whatever the last turn buffered is written on 'exit'.
 */
export class TurnBatchedDestination implements DestinationStream {
  readonly #out: ReturnType<typeof pino.destination>;
  #scheduled = false;
  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.#out.flush();
  };

  constructor(fd = 1) {
    this.#out = pino.destination({ dest: fd, sync: true, minLength: BATCH_BYTES });
    process.once('exit', () => this.flushSync());
  }

  write(line: string): void {
    this.#out.write(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
    }
  }

  /** pino's logger.flush(cb). */
  flush(cb?: (err?: Error) => void): void {
    this.#out.flush(cb);
  }

  flushSync(): void {
    try {
      this.#out.flushSync();
    } catch {
      // stdout closed or not open yet: nothing more can be written
    }
  }
}

/** JSON lines to stdout, batched per event-loop turn (or to the given stream, e.g. an in-memory sink in tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'synpool' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination !== undefined) return pino(options, destination);
  // A silent logger writes nothing: no stdout destination, no exit hook.
  return level === 'silent' ? pino(options) : pino(options, new TurnBatchedDestination());
}
