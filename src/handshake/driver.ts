import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Endpoint } from './endpoint.js';
import type { HalfOpen } from './half-open.js';

/** Events a handshake driver emits. Listeners must not throw. */
export interface HandshakeDriverEvents {
  /** A SYN-ACK for a pending or established entry; `retransmit` when it is not the first. */
  synack: [entry: HalfOpen, info: { retransmit: boolean; rttMs: number }];
  /** The server reset an entry: refused (state syn-sent); a driver may also report an established entry it learned was forgotten. */
  reset: [entry: HalfOpen];
  /** A segment that could not be decoded; counted and dropped. */
  malformed: [reason: string];
  /** The raw socket failed to send (the entry's SYN-ACK timeout will catch the rest). */
  channelError: [error: Error];
}

/**
 * The seam between the pool and the kernel: the real implementation is
 * `Handshaker` (raw socket + TCP_REPAIR); pool unit tests use a fake.
 */
export interface HandshakeDriver extends EventEmitter<HandshakeDriverEvents> {
  /** Reserves a local port and sends a SYN to `target`. Throws a SynpoolError. */
  open(target: Endpoint): HalfOpen;
  /** Turns an established entry into a connected socket; no packet is sent until the caller writes. */
  handoff(entry: HalfOpen): Socket;
  /** Optional: handoff() as a bare descriptor the caller owns (no net.Socket), for passing it to another process. */
  handoffFd?(entry: HalfOpen, hold?: boolean): number;
  /** Gives an entry up: RST to the server if it answered, port released. Idempotent. */
  release(entry: HalfOpen): void;
  /** Releases every entry and closes the channel. */
  close(): void;
  /**
   * A counter of inbound packets the driver's channel lost before reading
   * them (a full receive buffer), wrapping at 2^32. The pool compares a
   * reading taken when a SYN went out with one taken at its timeout: if it
   * moved, the SYN-ACK may have been among the lost, and the timeout says
   * nothing about the upstream.
   */
  channelDrops(): number;
  /**
   * Reads, synchronously, what the channel has received but not yet read,
   * emitting its events. The pool calls it before it counts a SYN-ACK
   * timeout: an event loop runs timers before I/O callbacks, so after a long
   * iteration a SYN-ACK can be waiting in the kernel while its timeout fires.
   */
  poll(): void;
}
