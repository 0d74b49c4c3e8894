// Turning a half-open entry into an ESTABLISHED kernel socket with TCP_REPAIR.
// Every step and its order comes from ../shared/notes/tcp-repair-handoff.md;
// the comments name the pitfall each one avoids.
import {
  SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM, SOL_TCP,
  TCP_MAXSEG, TCP_NODELAY, TCP_QUEUE_SEQ, TCP_RECV_QUEUE, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, TCP_REPAIR_ON,
  TCP_REPAIR_OPTIONS, TCP_REPAIR_QUEUE, TCP_REPAIR_WINDOW, TCP_SEND_QUEUE, TCP_TIMESTAMP,
  TCPOPT_MSS, TCPOPT_SACK_PERM, TCPOPT_TIMESTAMP, TCPOPT_WINDOW,
} from '../../native/constants.js';
import { bindIp, closeFd, connectIp, familyOf, getBufferOption, openSocket, setBufferOption, setIntOption } from '../../native/socket-ops.js';
import { TCP_REPAIR_OPT_SIZE, TCP_REPAIR_WINDOW_OFFSETS, TCP_REPAIR_WINDOW_SIZE } from '../../native/structs.js';
import { EntryStateError } from '../errors.js';
import { formatEndpoint } from './endpoint.js';
import type { HalfOpen, SynAckInfo } from './half-open.js';
import { tsClockNow } from './ts-clock.js';

/** MAX_TCP_WINDOW in <net/tcp.h>: the largest value TCP_MAXSEG accepts. */
const MAX_TCP_MAXSEG = 32767;
const optsBuf = Buffer.alloc(4 * TCP_REPAIR_OPT_SIZE);
const windowBuf = Buffer.alloc(TCP_REPAIR_WINDOW_SIZE);

function synAckOf(entry: HalfOpen): SynAckInfo {
  if (!entry.synAck) throw new EntryStateError(formatEndpoint(entry.target), entry.state, 'a SYN-ACK');
  return entry.synAck;
}

/**
 * The steps that touch only a socket in CLOSE state: they send nothing and
 * can run as soon as the SYN-ACK is in, off the request path. Returns the fd.
 */
export function prepareRepairSocket(entry: HalfOpen): number {
  const synAck = synAckOf(entry);
  // AF_INET6 for an IPv6 target: TCP_REPAIR works the same on it (tcp_v6_connect honours repair mode).
  const fd = openSocket(familyOf(entry.target.address), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 'socket(repair)');
  try {
    setIntOption(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_ON, 'setsockopt(TCP_REPAIR)');
    // Repair mode forces address reuse, so this binds beside the reserving listener.
    bindIp(fd, entry.local.address, entry.local.port, 'bind(repair)');
    // Sequence numbers ≥ 2^31 must go in unsigned (setIntOption writes them so).
    setIntOption(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE, 'setsockopt(TCP_REPAIR_QUEUE, send)');
    setIntOption(fd, SOL_TCP, TCP_QUEUE_SEQ, (entry.syn.isn + 1) >>> 0, 'setsockopt(TCP_QUEUE_SEQ, send)');
    setIntOption(fd, SOL_TCP, TCP_REPAIR_QUEUE, TCP_RECV_QUEUE, 'setsockopt(TCP_REPAIR_QUEUE, recv)');
    setIntOption(fd, SOL_TCP, TCP_QUEUE_SEQ, (synAck.serverIsn + 1) >>> 0, 'setsockopt(TCP_QUEUE_SEQ, recv)');
    // Without it the repaired socket sends 524-byte segments. The kernel caps
    // TCP_MAXSEG at MAX_TCP_WINDOW (only loopback's 64 KiB MTU goes past it).
    setIntOption(fd, SOL_TCP, TCP_MAXSEG, Math.min(synAck.mss, MAX_TCP_MAXSEG), 'setsockopt(TCP_MAXSEG)');
    // Plain connects get it from net.connect({ noDelay: true }) and undici's own connector; a
    // socket made from an fd gets nothing. Without it, Nagle holds a request's second write
    // (a streamed body chunk, a TLS record after the Finished + headers) until the server has
    // acknowledged the first: a whole round trip more (a streamed POST over a pooled HTTPS
    // connection at 100 ms RTT took 3.6 RTT instead of 2). Set here, off the request path; the
    // flag survives the repair connect().
    setIntOption(fd, SOL_TCP, TCP_NODELAY, 1, 'setsockopt(TCP_NODELAY)');
    return fd;
  } catch (err) {
    closeFd(fd);
    throw err;
  }
}

/**
 * connect() in repair mode sends no SYN: the socket becomes ESTABLISHED with the state we set.
 * `beforeLive` runs last in repair mode (held-socket.ts attaches its filter there).
 */
export function finishRepair(fd: number, entry: HalfOpen, beforeLive?: (fd: number) => void): void {
  const synAck = synAckOf(entry);
  connectIp(fd, entry.target.address, entry.target.port, 'connect(repair)');

  let n = 0;
  const opt = (code: number, val: number) => {
    optsBuf.writeUInt32LE(code, n * TCP_REPAIR_OPT_SIZE);
    optsBuf.writeUInt32LE(val >>> 0, n * TCP_REPAIR_OPT_SIZE + 4);
    n++;
  };
  opt(TCPOPT_MSS, synAck.mss);
  // Peer's scale in the low half, ours (exactly what the SYN offered) in the
  // high half; 0/0 when the server did not scale, so neither side does.
  opt(TCPOPT_WINDOW, synAck.wscale === null ? 0 : synAck.wscale | (entry.syn.wscale << 16));
  if (synAck.sackOk) opt(TCPOPT_SACK_PERM, 0);
  if (synAck.tsOk) opt(TCPOPT_TIMESTAMP, 0);
  setBufferOption(fd, SOL_TCP, TCP_REPAIR_OPTIONS, optsBuf.subarray(0, n * TCP_REPAIR_OPT_SIZE), 'setsockopt(TCP_REPAIR_OPTIONS)');

  if (synAck.tsOk) {
    // Our TS clock has run since the SYN's TSval; an even value keeps the
    // socket on millisecond timestamps (odd switches to µs on kernels ≥ 6.7).
    setIntOption(fd, SOL_TCP, TCP_TIMESTAMP, tsClockNow(), 'setsockopt(TCP_TIMESTAMP)');
  }

  // The send window stays 0 otherwise, and the request never leaves.
  getBufferOption(fd, SOL_TCP, TCP_REPAIR_WINDOW, windowBuf, 'getsockopt(TCP_REPAIR_WINDOW)');
  const w = TCP_REPAIR_WINDOW_OFFSETS;
  windowBuf.writeUInt32LE((synAck.serverIsn + 1) >>> 0, w.snd_wl1);
  windowBuf.writeUInt32LE(synAck.window, w.snd_wnd);
  windowBuf.writeUInt32LE(synAck.window, w.max_window);
  windowBuf.writeUInt32LE((synAck.serverIsn + 1) >>> 0, w.rcv_wup);
  setBufferOption(fd, SOL_TCP, TCP_REPAIR_WINDOW, windowBuf, 'setsockopt(TCP_REPAIR_WINDOW)');

  beforeLive?.(fd);

  // -1, not 0: a window probe with seq = ISN would make the server's reply
  // carry a TSecr that kernels ≥ 6.15 reject, stalling the request ~1 s.
  setIntOption(fd, SOL_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP, 'setsockopt(TCP_REPAIR, off)');
}
