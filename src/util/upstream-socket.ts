import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

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
 * An early response. A server may answer before it has read the request body (413 for
 * an upload too large, 401) and close; the proxy's next write of the body then fails
 * (EPIPE), and a socket destroyed by that error loses the response still unread in the
 * kernel's queue: the client got a 502 where curl, talking to the same server, gets the
 * 413. Returns a destroy() for `socket` that holds such a write error back: the socket
 * keeps reading (its writable side stays errored, so the body's later writes wait in the
 * stream, unsent), undici parses the response and relays it, and `destroyNow` runs when
 * undici is done with the socket, when the read side fails or ends, or after
 * EARLY_RESPONSE_LINGER_MS, with the write error if nothing else came. Any other
 * destroy() goes straight to `destroyNow`.
 */
export function holdRefusedWrites(socket: Duplex, destroyNow: (error?: Error) => void): (error?: Error) => void {
  let refused: Error | undefined;
  let timer: NodeJS.Timeout | undefined;
  const endHold = (error: Error | undefined): void => {
    const first = refused;
    refused = undefined;
    clearTimeout(timer);
    timer = undefined;
    destroyNow(error ?? first);
  };
  return (error) => {
    if (refused !== undefined) {
      // Another refused write says nothing new: the read side, undici or the timer ends the wait.
      if (error === undefined || !isWriteRefused(error)) endHold(error);
      return;
    }
    if (error === undefined || !isWriteRefused(error) || socket.destroyed || socket.readableEnded) {
      destroyNow(error);
      return;
    }
    refused = error;
    // Writable marks the readable side of a duplex errored too on a failed write, which stops
    // reads: undone here, and only here, so the queued response can still be read.
    const readable = (socket as unknown as { _readableState?: { errored: Error | null } })._readableState;
    if (readable?.errored === error) readable.errored = null;
    timer = setTimeout(() => endHold(undefined), EARLY_RESPONSE_LINGER_MS);
    timer.unref();
    // Nothing more to read: after the 'end' listeners (undici's destroys with its own error), end the wait.
    socket.once('end', () => setImmediate(() => refused !== undefined && endHold(undefined)));
  };
}

/** Not a #field: net.Socket's constructor may call destroy() (a failed readStart) before this class's fields exist. */
const kDestroy = Symbol('synpool.upstreamDestroy');

/**
 * The socket class of every upstream connection synpool hands to undici (plain and
 * pooled). Two departures from net.Socket, both in destroy():
 *
 * - a write the server refused after answering early is held back (holdRefusedWrites);
 *   an https upstream's TLS socket gets the same (tls-handshake.ts);
 * - when a response says `Connection: close`, undici ends the connection with
 *   `destroy(new InformationalError('reset'))`, an error nothing reports; net.Socket's
 *   destroy() reads the stack of any error it is given, and this one is created inside
 *   llhttp's WebAssembly callbacks, whose frames are slow to format: ~0.17 ms per
 *   connection in a CPU profile of a worker (33 ms over 190 closing responses). Such an
 *   error keeps its name and message as its stack; every other error is untouched.
 */
export class UpstreamSocket extends Socket {
  declare [kDestroy]: ((error?: Error) => void) | undefined;

  override destroy(error?: Error): this {
    const held = this[kDestroy];
    if (held !== undefined) held(error);
    // The hold is made only for a refused write: a connection's ordinary end allocates nothing.
    else if (error !== undefined && isWriteRefused(error)) (this[kDestroy] = holdRefusedWrites(this, (e) => destroyUpstream(this, e)))(error);
    else destroyUpstream(this, error);
    return this;
  }
}

function destroyUpstream(socket: Socket, error: Error | undefined): void {
  // Assigned, not defined: V8's defineProperty on `stack` formats it first.
  if (error !== undefined && (error as { code?: unknown }).code === UNDICI_INFO) error.stack = `${error.name}: ${error.message}`;
  Socket.prototype.destroy.call(socket, error);
}
