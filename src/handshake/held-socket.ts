// A handed-off connection that may wait before its first request: ESTABLISHED
// on our side, the server's SYN-ACK retransmits dropped by a filter.
import { abortCloseFd, abortOnClose } from '../../native/socket-ops.js';
import type { Endpoint } from './endpoint.js';
import { RepairedSocket } from './repaired-socket.js';
import { attachFilter } from './socket-filters.js';

/**
 * Before TCP_REPAIR goes off: from here the socket wins the 4-tuple's lookup,
 * and a SYN-ACK retransmit reaching it would be acknowledged, completing the
 * server's handshake (an idle connection on the server, before any request).
 * With the filter, TCP never sees one: the server's entry stays in SYN_RECV.
 * The socket itself sends nothing while it waits (no data queued, no
 * keepalive, no window probe: repair ends with TCP_REPAIR_OFF_NO_WP).
 *
 * The filter drops SYNs only (bpf-programs.ts dropSynProgram) and stays for the
 * connection's life, so the first request byte can go out with no syscall
 * before it (stop 25 timed a detach at 28 µs of a cold request).
 */
export function holdSocket(fd: number): void {
  attachFilter(fd, 'dropSyn', 'setsockopt(held filter)');
}

/**
 * Gives up a held socket without telling the server's application: a RST with
 * seq = ISN+1 (a FIN's ACK would complete the handshake first, and the server
 * would accept an empty connection), so the server drops its SYN_RECV entry.
 */
export function discardHeldSocket(fd: number): void {
  abortCloseFd(fd);
}

/** A RST while held (the only segment a waiting server can send that the filter keeps) closes the socket: not an error anyone waits on. */
function ignoreWhileHeld(): void {}

/**
 * The socket around a held descriptor, made ahead of its use (off the request path: 0.06 ms of a
 * handoff after idleness, stop 23). It tells the server nothing: it starts reading, and reads
 * nothing (a server in SYN_RECV sends no data); nothing is written. A RST while it waits closes
 * it, and a closed one is never handed out. `openWrappedHeldSocket` marks it in use;
 * `discardWrappedHeldSocket` gives it up as `discardHeldSocket` does.
 */
export function wrapHeldSocket(handle: number | { readonly fd: number }, target: Endpoint, entryId: number): RepairedSocket {
  const socket = new RepairedSocket(handle, target, entryId);
  socket.setNoDelay(true);
  socket.on('error', ignoreWhileHeld);
  return socket;
}

/** From here an error is the request's: nothing to do on the socket itself (the filter stays). */
export function openWrappedHeldSocket(socket: RepairedSocket): void {
  socket.off('error', ignoreWhileHeld);
}

/** The RST of `discardHeldSocket`, for a wrapped socket: its destroy() is the close that sends it. */
export function discardWrappedHeldSocket(socket: RepairedSocket): void {
  // Its fd is closed already, and the number may be another socket's now.
  if (socket.destroyed) return;
  try {
    abortOnClose(socket.fd);
  } catch {
    // Already closed: nothing left to give up.
  }
  socket.destroy();
}
