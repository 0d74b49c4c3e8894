// Splits a byte stream into newline-terminated lines, bounded: a peer that
// never sends a newline cannot grow our buffer past the limit.

export class LineTooLongError extends Error {
  constructor(limit: number) {
    super(`line longer than ${limit} bytes`);
  }
}

export class LineReader {
  readonly #limit: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  /** `limit`: the longest line accepted, in bytes, without its newline. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /**
   * The complete lines in `chunk` (UTF-8 decoded, newline and a trailing CR
   * removed); keeps the unfinished tail. Throws LineTooLongError once a line
   * passes the limit: the stream cannot be resynchronised, close it.
   */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      const part = chunk.subarray(start, nl);
      if (this.#pendingBytes + part.length > this.#limit) throw new LineTooLongError(this.#limit);
      const whole = this.#pendingBytes === 0 ? part : Buffer.concat([...this.#pending, part]);
      this.#pending = [];
      this.#pendingBytes = 0;
      const end = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
      lines.push(whole.toString('utf8', 0, end));
      start = nl + 1;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      if (this.#pendingBytes + tail.length > this.#limit) throw new LineTooLongError(this.#limit);
      this.#pending.push(Buffer.from(tail));
      this.#pendingBytes += tail.length;
    }
    return lines;
  }
}
