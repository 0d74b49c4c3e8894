import { writeSync } from 'node:fs';
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

/** Writes of at most this many bytes to a pipe are atomic (PIPE_BUF). */
const PIPE_BUF = 4096;

/**
 * stdout shared by several processes (the keeper and the workers write to the
 * supervisor's): batched per turn like TurnBatchedDestination, but every write(2)
 * is whole lines and at most PIPE_BUF bytes, so two processes' lines never interleave
 * mid-line in a pipe. A longer line goes out alone.
 */
export class SharedLineDestination implements DestinationStream {
  readonly #fd: number;
  readonly #write: (fd: number, buf: Buffer) => number;
  #lines: string[] = [];
  #scheduled = false;
  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.flushSync();
  };

  /** `write` is writeSync; a test passes its own to see the chunks. */
  constructor(fd = 1, write: (fd: number, buf: Buffer) => number = writeSync) {
    this.#fd = fd;
    this.#write = write;
    process.once('exit', () => this.flushSync());
  }

  write(line: string): void {
    this.#lines.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
    }
  }

  flush(cb?: (err?: Error) => void): void {
    this.flushSync();
    cb?.();
  }

  flushSync(): void {
    const lines = this.#lines;
    this.#lines = [];
    let chunk = '';
    let bytes = 0;
    for (const line of lines) {
      const n = Buffer.byteLength(line);
      if (bytes > 0 && bytes + n > PIPE_BUF) {
        this.#writeAll(chunk);
        chunk = '';
        bytes = 0;
      }
      chunk += line;
      bytes += n;
    }
    if (bytes > 0) this.#writeAll(chunk);
  }

  #writeAll(text: string): void {
    let buf = Buffer.from(text);
    // A non-blocking pipe that is full: wait for the reader, a bounded number of times.
    for (let tries = 0; buf.length > 0 && tries < 1_000; ) {
      try {
        const n = this.#write(this.#fd, buf);
        buf = buf.subarray(n);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN') return; // stdout closed: nothing more can be written
        tries++;
        Atomics.wait(WAIT, 0, 0, 1);
      }
    }
  }
}

const WAIT = new Int32Array(new SharedArrayBuffer(4));

/** JSON lines to stdout, batched per event-loop turn (or to the given stream, e.g. an in-memory sink in tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = { level, base: { name: 'synpool' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination !== undefined) return pino(options, destination);
  // A silent logger writes nothing: no stdout destination, no exit hook.
  return level === 'silent' ? pino(options) : pino(options, new TurnBatchedDestination());
}
