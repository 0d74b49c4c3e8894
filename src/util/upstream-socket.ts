import { Socket } from 'node:net';

/** undici's code for the errors it ends a connection with when nothing failed (`Connection: close`, idle timeout). */
const UNDICI_INFO = 'UND_ERR_INFO';

/**
 * The socket class of every upstream connection synpool hands to undici (plain
 * and pooled). When a response says `Connection: close`, undici ends the
 * connection with `destroy(new InformationalError('reset'))`, an error nothing
 * reports; net.Socket.destroy() reads the stack of any error it is given, and
 * this one is created inside llhttp's WebAssembly callbacks, whose frames are
 * slow to format: ~0.17 ms per connection in a CPU profile of a worker (33 ms
 * over 190 closing responses), on the path of every response from an upstream
 * that closes its connections. Such an error keeps its name and message as its
 * stack; every other error is untouched.
 */
export class UpstreamSocket extends Socket {
  override destroy(error?: Error): this {
    // Assigned, not defined: V8's defineProperty on `stack` formats it first.
    if (error !== undefined && (error as { code?: unknown }).code === UNDICI_INFO) error.stack = `${error.name}: ${error.message}`;
    return super.destroy(error);
  }
}
