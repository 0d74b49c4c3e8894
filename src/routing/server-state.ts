/** What a balancing policy sees of one server of an upstream, at the moment of a pick. */
export interface ServerState {
  /** Stable identity, e.g. "10.0.0.2:8080". */
  readonly key: string;
  /** Requests sent to it and not finished. */
  readonly inFlight: number;
  /** Idle keep-alive connections to it, ready to carry a request without any handshake. */
  readonly idle: number;
  /** Not ejected by passive health (PassiveHealth.isAvailable). */
  readonly available: boolean;
  /**
   * Passive health waits for this server's probe (PassiveHealth.state is 'probing'): it is
   * picked before any other, else keep-alive reuse first would keep a server that has no
   * warm connection (all of an ejected one's are gone) from ever being probed.
   */
  readonly probing?: boolean;
}

/** Uniform in [0, 1), like Math.random; injected so tests can seed it. */
export type RandomSource = () => number;

/** An index in [0, n) from a random source, safe against a source that returns 1. */
export function randomIndex(random: RandomSource, n: number): number {
  return Math.min(n - 1, Math.floor(random() * n));
}
