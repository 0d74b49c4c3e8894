/**
 * The latest TLS session per origin ("servername:port"), so a new connection resumes
 * instead of doing a full handshake: the server skips its certificate signature (CPU),
 * and a session ticket is what a future 0-RTT request would need. Bounded: the least
 * recently used origin goes first. The round trips are the same either way (TLS 1.3:
 * one for the handshake, with or without resumption).
 */
export class TlsSessionCache {
  readonly #sessions = new Map<string, Buffer>();
  readonly maxOrigins: number;

  constructor(maxOrigins = 256) {
    this.maxOrigins = maxOrigins;
  }

  get(origin: string): Buffer | undefined {
    const session = this.#sessions.get(origin);
    if (session !== undefined) {
      // Map keeps insertion order: re-inserting marks it most recently used.
      this.#sessions.delete(origin);
      this.#sessions.set(origin, session);
    }
    return session;
  }

  /** TLS 1.3 servers may send several tickets per connection; the last one wins. */
  set(origin: string, session: Buffer): void {
    this.#sessions.delete(origin);
    this.#sessions.set(origin, session);
    if (this.#sessions.size > this.maxOrigins) this.#sessions.delete(this.#sessions.keys().next().value!);
  }

  /** A session the server refused to resume with is not offered again. */
  delete(origin: string): void {
    this.#sessions.delete(origin);
  }

  get size(): number {
    return this.#sessions.size;
  }
}
