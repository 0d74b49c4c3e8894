import { tcpInfo } from '../../native/socket-ops.js';
import { PooledConnectionResetError } from '../errors.js';
import { UpstreamSocket } from '../util/upstream-socket.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';

const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * A handed-off connection. If the server had forgotten the half-open entry,
 * its first segment is answered with a RST; when that happens before the
 * server acknowledged any byte of ours, the error becomes a
 * PooledConnectionResetError (retriable: nothing reached the upstream).
 */
export class RepairedSocket extends UpstreamSocket {
  readonly target: Endpoint;
  readonly entryId: number;
  readonly #fd: number;

  /** `fd`, or a TCP handle libuv already wraps it in (a descriptor received over an IPC pipe). */
  constructor(fd: number | { readonly fd: number }, target: Endpoint, entryId: number) {
    super(typeof fd === 'number' ? { fd, readable: true, writable: true } : ({ handle: fd, readable: true, writable: true } as never));
    this.#fd = typeof fd === 'number' ? fd : fd.fd;
    this.target = target;
    this.entryId = entryId;
  }

  /** The descriptor it wraps (for the socket options a held connection needs: its filter, SO_LINGER). */
  get fd(): number {
    return this.#fd;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // The handle (and so the fd) is still open here: read what the kernel
    // knows before net.Socket closes it.
    if (err && RESET_CODES.has((err as NodeJS.ErrnoException).code ?? '') && this.bytesRead === 0 && nothingAcked(this.#fd)) {
      err = new PooledConnectionResetError(formatEndpoint(this.target), err);
    }
    super._destroy(err, cb);
  }
}

function nothingAcked(fd: number): boolean {
  try {
    return tcpInfo(fd).bytesAcked === 0n;
  } catch {
    return false;
  }
}
