import { Socket } from 'node:net';

/** undici's code for the errors it ends a connection with when nothing failed (`Connection: close`, idle timeout). */
const UNDICI_INFO = 'UND_ERR_INFO';

/**
 * After a write failed because the server closed the connection, how long the socket
 * keeps reading for a response the server sent before closing: ms. The response is
 * normally already in the receive queue and read in the next poll phase, and the read
 * side ends at once after it (the server's RST came with it); this only bounds a
 * connection whose read side says nothing.
 */
export const EARLY_RESPONSE_LINGER_MS = 200;

/** A write refused because the server closed or reset the connection (not a read error: data after a read error is gone). */
function isWriteRefused(error: Error): boolean {
  const e = error as { syscall?: unknown; code?: unknown };
  return e.syscall === 'write' && (e.code === 'EPIPE' || e.code === 'ECONNRESET');
}

/**
 * The socket class of every upstream connection synpool hands to undici (plain
 * and pooled). Two departures from net.Socket, both in destroy():
 *
 * - An early response. A server may answer before it has read the request body
 *   (413 for an upload too large, 401) and close; the proxy's next write of the
 *   body then fails (EPIPE), and net.Socket would destroy the socket with the
 *   response still unread in the kernel's queue: the client got a 502 where
 *   curl, talking to the same server, gets the 413. Here the write error is
 *   held back: the socket keeps reading (its writable side stays errored, so
 *   the body's later writes wait in the stream, unsent), undici parses the
 *   response and relays it, and the socket is destroyed when undici is done
 *   with it, when the read side fails or ends, or after
 *   EARLY_RESPONSE_LINGER_MS, with the write error if nothing else came.
 * - When a response says `Connection: close`, undici ends the connection with
 *   `destroy(new InformationalError('reset'))`, an error nothing reports;
 *   net.Socket.destroy() reads the stack of any error it is given, and this
 *   one is created inside llhttp's WebAssembly callbacks, whose frames are slow
 *   to format: ~0.17 ms per connection in a CPU profile of a worker (33 ms over
 *   190 closing responses). Such an error keeps its name and message as its
 *   stack; every other error is untouched.
 */
export class UpstreamSocket extends Socket {
  /** Set while a refused write waits for the read side (see above). */
  #refusedWrite: Error | undefined;
  #lingerTimer: NodeJS.Timeout | undefined;

  override destroy(error?: Error): this {
    if (this.#refusedWrite !== undefined) {
      // Another refused write says nothing new: the read side, undici or the timer ends the wait.
      if (error !== undefined && isWriteRefused(error)) return this;
      return this.#endLinger(error);
    }
    if (error !== undefined && isWriteRefused(error) && !this.destroyed && !this.readableEnded) {
      this.#refusedWrite = error;
      // Writable marks the readable side of a duplex errored too on a failed write, which stops
      // reads: undone here, and only here, so the queued response can still be read.
      const readable = (this as unknown as { _readableState?: { errored: Error | null } })._readableState;
      if (readable?.errored === error) readable.errored = null;
      this.#lingerTimer = setTimeout(() => this.#endLinger(undefined), EARLY_RESPONSE_LINGER_MS);
      this.#lingerTimer.unref();
      // Nothing more to read: after the 'end' listeners (undici's destroys with its own error), end the wait.
      this.once('end', () => setImmediate(() => this.#refusedWrite !== undefined && this.#endLinger(undefined)));
      return this;
    }
    return this.#destroyNow(error);
  }

  /** The read side ended (undici destroys on 'end' without a whole response), failed, or undici is done: destroy now. */
  #endLinger(error: Error | undefined): this {
    const refused = this.#refusedWrite;
    this.#refusedWrite = undefined;
    clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
    return this.#destroyNow(error ?? refused);
  }

  #destroyNow(error: Error | undefined): this {
    // Assigned, not defined: V8's defineProperty on `stack` formats it first.
    if (error !== undefined && (error as { code?: unknown }).code === UNDICI_INFO) error.stack = `${error.name}: ${error.message}`;
    return super.destroy(error);
  }
}
