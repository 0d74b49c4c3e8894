// Fast paths around raw-socket (1.8), whose JS layer does one syscall per
// event-loop wakeup in both directions:
//  - receive: one recvfrom per poll wakeup, so a burst of answers is read one
//    loop iteration at a time while the kernel queue fills;
//  - send: every send is queued and one sendto goes out per "writable"
//    wakeup, so under load (a busy proxy, few loop iterations per second)
//    SYNs sat in the queue for seconds: measured at ~2 000 proxied requests/s,
//    SYNs left after their 2 s SYN-ACK timeout had expired, and the pool took
//    its own queue for a silent upstream.
// Both go through raw-socket's native `wrap` (recv and send are synchronous
// there); if it is not what this expects, raw-socket's own paths are used.
import type { RawSocket } from 'raw-socket';

/** The parts of raw-socket's Socket used here (not in its public API). */
interface RawSocketInternals {
  wrap: {
    removeAllListeners(event: string): void;
    on(event: string, listener: () => void): void;
    /** `source`: recvfrom's address as text (uv_ip4_name / uv_ip6_name). */
    recv(buffer: Buffer, callback: (buffer: Buffer, bytes: number, source: string) => void): void;
    send(buffer: Buffer, offset: number, length: number, address: string, callback: (bytes: number) => void): void;
  };
  buffer: Buffer;
  requests: unknown[];
}

/** Packets read per wakeup at most: bounded, so a flood cannot hold the event loop. */
export const DRAIN_BATCH = 64;

/** The non-blocking socket has nothing more to read, or no room to send now. */
const WOULD_BLOCK = /temporarily unavailable|EAGAIN|EWOULDBLOCK|No buffer space/i;

function internals(socket: RawSocket): RawSocketInternals | undefined {
  const inner = socket as unknown as Partial<RawSocketInternals>;
  const wrap = inner.wrap;
  if (!wrap || typeof wrap.recv !== 'function' || typeof wrap.send !== 'function' || typeof wrap.on !== 'function') return undefined;
  if (!Buffer.isBuffer(inner.buffer) || !Array.isArray(inner.requests)) return undefined;
  return inner as RawSocketInternals;
}

/**
 * Replaces raw-socket's one-packet-per-wakeup reader: one wakeup reads until
 * the queue is empty (EAGAIN) or a batch is done; the poll is
 * level-triggered, so what is left wakes us on the next iteration. `onPacket`
 * gets a view of raw-socket's own receive buffer, valid until it returns (as
 * with raw-socket's 'message'). Returns the drain function (one batch; true
 * when the queue is empty), so a caller can also read synchronously, or
 * undefined when the internals are not what this expects (then listen to
 * 'message').
 */
export function drainInBatches(
  socket: RawSocket,
  onPacket: (packet: Buffer, source: string) => void,
  onError: (err: Error) => void,
): (() => boolean) | undefined {
  const inner = internals(socket);
  if (!inner) return undefined;
  const { wrap, buffer } = inner;
  let bytes = 0;
  let from = '';
  // An AF_INET6 raw socket delivers no IP header: recvfrom's source is the only place the sender's address is.
  const got = (_b: Buffer, n: number, source: string): void => {
    bytes = n;
    from = source;
  };
  const drain = (): boolean => {
    for (let i = 0; i < DRAIN_BATCH; i++) {
      // Every drain ends on an EAGAIN, thrown as an Error: without a stack it costs half (2–3 µs, not 4–5, warm).
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      let failed: Error | undefined;
      try {
        wrap.recv(buffer, got);
      } catch (err) {
        failed = err as Error;
      } finally {
        Error.stackTraceLimit = limit;
      }
      if (failed !== undefined) {
        if (!WOULD_BLOCK.test(String(failed.message))) onError(failed);
        return true;
      }
      onPacket(buffer.subarray(0, bytes), from);
    }
    return false;
  };
  wrap.removeAllListeners('recvReady');
  wrap.on('recvReady', drain);
  return drain;
}

/**
 * Sends now (one sendto) when nothing is queued ahead, so segments leave when
 * the pool decides, not when the event loop next reports "writable". Falls
 * back to raw-socket's queue when the socket has no room (and behind anything
 * already queued, to keep a SYN ahead of its RST). `done` is called once,
 * synchronously when sent at once.
 */
export function sendNow(socket: RawSocket, segment: Buffer, address: string, done: (err: Error | null) => void): void {
  const inner = internals(socket);
  if (inner && inner.requests.length === 0) {
    try {
      inner.wrap.send(segment, 0, segment.length, address, () => undefined);
      done(null);
      return;
    } catch (err) {
      if (!WOULD_BLOCK.test(String((err as Error).message))) {
        done(err as Error);
        return;
      }
    }
  }
  socket.send(segment, 0, segment.length, address, (err) => done(err));
}
