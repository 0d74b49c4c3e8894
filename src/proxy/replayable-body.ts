import { Readable } from 'node:stream';

/**
 * A request body streamed from its source (the client's request) that can be sent
 * again on another connection: the first `limitBytes` are kept while they stream
 * through; once more than that has gone by, the body can no longer be replayed.
 * Backpressure flows from the current attempt's reader to the source.
 */
export class ReplayableBody {
  readonly #source: Readable;
  readonly #limitBytes: number;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #overflowed = false;
  #ended = false;
  #error: Error | undefined;
  #current: Readable | undefined;
  #attempts = 0;
  /** Bytes read from the source so far. */
  bytesRead = 0;

  constructor(source: Readable, limitBytes: number) {
    this.#source = source;
    this.#limitBytes = limitBytes;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.once('end', () => {
      this.#ended = true;
      this.#current?.push(null);
    });
    source.once('error', (err: Error) => {
      this.#error = err;
      this.#current?.destroy(err);
    });
    source.pause();
  }

  /** True when a new attempt would send the whole body again. */
  get replayable(): boolean {
    return !this.#overflowed && this.#error === undefined;
  }

  /** A fresh stream for one attempt; the previous attempt's stream is detached. */
  openAttempt(): Readable {
    if (this.#attempts > 0 && !this.replayable) throw new Error('request body can no longer be replayed');
    this.#attempts += 1;
    const stream: Readable = new Readable({
      read: () => {
        if (this.#current === stream && !this.#ended) this.#source.resume();
      },
    });
    for (const chunk of this.#kept) stream.push(chunk);
    if (this.#ended) stream.push(null);
    this.#current = stream;
    return stream;
  }

  /** Stop feeding any attempt (the exchange is over). */
  detach(): void {
    this.#current = undefined;
    this.#kept = [];
  }

  #onData(chunk: Buffer): void {
    this.bytesRead += chunk.length;
    if (!this.#overflowed) {
      if (this.#keptBytes + chunk.length <= this.#limitBytes) {
        this.#kept.push(chunk);
        this.#keptBytes += chunk.length;
      } else {
        this.#overflowed = true;
        this.#kept = [];
      }
    }
    const current = this.#current;
    if (current === undefined || !current.push(chunk)) this.#source.pause();
  }
}
