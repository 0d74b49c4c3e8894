/**
 * - ok: SYN-ACKs arrive; the pool refills freely (paced by the token bucket);
 * - backoff: recent attempts failed; one attempt at a time, after an exponential delay;
 * - unreachable: `unreachableAfterFailures` attempts in a row failed; one probe per probe interval.
 */
export type UpstreamState = 'ok' | 'backoff' | 'unreachable';

export interface BackoffConfig {
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  readonly unreachableAfterFailures: number;
  readonly probeIntervalMs: number;
  readonly probeIntervalMaxMs: number;
}

export interface StateChange {
  readonly from: UpstreamState;
  readonly to: UpstreamState;
}

/** Delays are stretched by up to this fraction so pools that failed together do not retry together. */
export const BACKOFF_JITTER = 0.2;

/** Consecutive-failure tracking for one upstream: when the next attempt may go out, and in which state. */
export class Backoff {
  private current: UpstreamState = 'ok';
  private failures = 0;
  private nextAt = 0;
  private probeMs: number;

  constructor(
    private readonly config: BackoffConfig,
    private readonly random: () => number,
  ) {
    this.probeMs = config.probeIntervalMs;
  }

  get state(): UpstreamState {
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Earliest time of the next attempt (only meaningful outside 'ok'). */
  get nextAttemptAt(): number {
    return this.nextAt;
  }

  /** Records a failed attempt (timeout, refused, open() threw) and schedules the next one. */
  onFailure(nowMs: number): StateChange | undefined {
    const from = this.current;
    this.failures += 1;
    let delay: number;
    if (this.failures >= this.config.unreachableAfterFailures) {
      this.current = 'unreachable';
      delay = this.probeMs;
      this.probeMs = Math.min(this.config.probeIntervalMaxMs, this.probeMs * 2);
    } else {
      this.current = 'backoff';
      delay = Math.min(this.config.backoffMaxMs, this.config.backoffBaseMs * 2 ** (this.failures - 1));
    }
    const r = Math.min(1, Math.max(0, this.random()));
    this.nextAt = nowMs + Math.round(delay * (1 + BACKOFF_JITTER * r));
    return from === this.current ? undefined : { from, to: this.current };
  }

  /** A SYN-ACK arrived: the upstream answers. */
  onSuccess(): StateChange | undefined {
    const from = this.current;
    this.failures = 0;
    this.nextAt = 0;
    this.probeMs = this.config.probeIntervalMs;
    this.current = 'ok';
    return from === 'ok' ? undefined : { from, to: 'ok' };
  }
}
