import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Endpoint } from './endpoint.js';
import type { HalfOpen } from './half-open.js';

/** Events a handshake driver emits. Listeners must not throw. */
export interface HandshakeDriverEvents {
  /** A SYN-ACK for a pending or established entry; `retransmit` when it is not the first. */
  synack: [entry: HalfOpen, info: { retransmit: boolean; rttMs: number }];
  /** The server reset an entry: refused (state syn-sent) or forgot it (established). */
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
  /** Gives an entry up: RST to the server if it answered, port released. Idempotent. */
  release(entry: HalfOpen): void;
  /** Releases every entry and closes the channel. */
  close(): void;
}
