// A handed-off connection that may wait before its first request: ESTABLISHED
// on our side, every inbound segment dropped by a filter until it is opened.
import { SO_DETACH_FILTER, SOL_SOCKET } from '../../native/constants.js';
import { abortCloseFd, abortOnClose, setIntOption } from '../../native/socket-ops.js';
import type { Endpoint } from './endpoint.js';
import { attachDropAllFilter } from './port-reservation.js';
import { RepairedSocket } from './repaired-socket.js';

/**
 * Before TCP_REPAIR goes off: from here the socket wins the 4-tuple's lookup,
 * and a SYN-ACK retransmit reaching it would be acknowledged, completing the
 * server's handshake (an idle connection on the server, before any request).
 * With the filter, TCP never sees it, exactly as the reserving listener did:
 * the server's entry stays in SYN_RECV. The socket itself sends nothing while
 * it waits (no data queued, no keepalive, no window probe: repair ends with
 * TCP_REPAIR_OFF_NO_WP).
 */
export function holdSocket(fd: number): void {
  attachDropAllFilter(fd, 'setsockopt(SO_ATTACH_FILTER, held)');
}

/** Lets the server's segments in again: the first request byte is next. Needs no privilege. */
export function openHeldSocket(fd: number): void {
  setIntOption(fd, SOL_SOCKET, SO_DETACH_FILTER, 0, 'setsockopt(SO_DETACH_FILTER)');
}

/**
 * Gives up a held socket without telling the server's application: a RST with
 * seq = ISN+1 (a FIN's ACK would complete the handshake first, and the server
 * would accept an empty connection), so the server drops its SYN_RECV entry.
 */
export function discardHeldSocket(fd: number): void {
  abortCloseFd(fd);
}

/** Nothing arrives while the drop-all filter is attached; this keeps an unexpected error from being fatal meanwhile. */
function ignoreWhileHeld(): void {}

/**
 * The socket around a held descriptor, made ahead of its use (off the request path: 0.06 ms of a
 * handoff after idleness, stop 23). It tells the server nothing: it starts reading, and reads
 * nothing while the filter drops every segment; nothing is written. `openWrappedHeldSocket` lets
 * the server's segments in; `discardWrappedHeldSocket` gives it up as `discardHeldSocket` does.
 */
export function wrapHeldSocket(handle: number | { readonly fd: number }, target: Endpoint, entryId: number): RepairedSocket {
  const socket = new RepairedSocket(handle, target, entryId);
  socket.setNoDelay(true);
  socket.on('error', ignoreWhileHeld);
  return socket;
}

export function openWrappedHeldSocket(socket: RepairedSocket): void {
  openHeldSocket(socket.fd);
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
