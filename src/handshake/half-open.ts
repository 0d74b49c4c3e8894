import type { Endpoint } from './endpoint.js';

/** What our SYN offered; the handoff must repeat it exactly (wscale, TSval base). */
export interface SynOffer {
  /** Our initial sequence number, unsigned 32-bit. */
  readonly isn: number;
  /** The TSval the SYN carried, in milliseconds of our TS clock. */
  readonly tsVal: number;
  /** Window scale we offered. */
  readonly wscale: number;
  /** MSS we offered. */
  readonly mss: number;
  /** The (unscaled) window the SYN carried. */
  readonly window: number;
}

/** What the server's SYN-ACK told us. */
export interface SynAckInfo {
  readonly serverIsn: number;
  /** The SYN-ACK's window field: never scaled. */
  readonly window: number;
  /** The server's MSS option; 536 when absent (RFC 9293). */
  readonly mss: number;
  /** The server's window scale, or null when it did not negotiate scaling. */
  readonly wscale: number | null;
  readonly sackOk: boolean;
  /** Whether the server echoed timestamps; if so the connection must carry them. */
  readonly tsOk: boolean;
  readonly tsVal: number;
}

/**
 * The states of a half-open entry:
 * - syn-sent: SYN out, no answer yet;
 * - established: SYN-ACK seen, the server holds a request socket for us;
 * - handed-off: turned into a real socket (terminal for this record);
 * - released: given up (RST sent if the server had answered, port freed).
 */
export type HalfOpenState = 'syn-sent' | 'established' | 'handed-off' | 'released';

/** One pre-handshaked connection attempt and everything its handoff needs. */
export interface HalfOpen {
  /** Unique per process. */
  readonly id: number;
  readonly target: Endpoint;
  /** Our address and the reserved local port. */
  readonly local: Endpoint;
  readonly syn: SynOffer;
  /** Monotonic ms (performance.now) when the SYN left. */
  readonly sentAt: number;
  state: HalfOpenState;
  synAck: SynAckInfo | undefined;
  /** Monotonic ms of the first SYN-ACK. */
  synAckAt: number | undefined;
  /** Monotonic ms of the latest SYN-ACK (first or retransmit). */
  lastSynAckAt: number | undefined;
  /** SYN-ACKs seen, retransmits included: 1 after the first. */
  synAckCount: number;
}
