/** Why an entry left the pool other than by take() or reaching its TTL. */
export type EvictReason =
  /** The upstream reset a ready entry. */
  | 'reset'
  /** An expected SYN-ACK retransmit did not come: the server pruned the entry, or it was a SYN cookie. */
  | 'retransmit-overdue'
  /** driver.handoff() threw for a taken entry (acquire()). */
  | 'handoff-failed'
  /** A replacement covers it: released before its TTL (refresh, or the target went down). */
  | 'refreshed'
  /** The driver had already released or handed it off behind the pool's back. */
  | 'driver-released'
  /** Opened before an entry that was reported dead on use was taken: the same server event likely took it. */
  | 'sibling-dead';

export const EVICT_REASONS: readonly EvictReason[] = [
  'reset',
  'retransmit-overdue',
  'handoff-failed',
  'refreshed',
  'driver-released',
  'sibling-dead',
];

/** Upper bounds (ms, inclusive) of the SYN-ACK RTT histogram; one more bucket counts everything above. */
export const RTT_BUCKET_BOUNDS_MS: readonly number[] = Object.freeze([1, 2, 5, 10, 25, 50, 100, 250, 500, 1000]);

/** Weight of a new RTT sample in the EWMA. */
const RTT_EWMA_ALPHA = 0.2;

export interface RttSnapshot {
  /** Exponentially weighted mean (α = 0.2), null before the first sample. */
  readonly ewmaMs: number | null;
  readonly lastMs: number | null;
  readonly samples: number;
  readonly bucketBoundsMs: readonly number[];
  /** Non-cumulative; bucketCounts[i] counts samples ≤ bucketBoundsMs[i] (and above the previous bound); the last one counts the rest. */
  readonly bucketCounts: readonly number[];
}

export interface FailureCounts {
  /** SYNs that got no SYN-ACK within synAckTimeoutMs. */
  timeouts: number;
  /** SYNs answered with a RST. */
  refused: number;
  /** driver.open() threw. */
  openErrors: number;
  /** driver.release() threw (counted, ignored). */
  releaseErrors: number;
  /**
   * SYNs that timed out while the driver's channel was dropping packets: the
   * answer may have been lost on our side, so they say nothing about the
   * upstream and do not count towards backoff.
   */
  answerDropped: number;
  /**
   * SYNs that timed out while the upstream answered a SYN sent at the same time or
   * later: one port the server would not take (its TIME-WAIT entry for that address
   * pair refused our SYN, answering with the old connection's ACK) or one lost
   * packet, not a silent upstream; they do not count towards backoff.
   */
  isolatedTimeouts: number;
}

/** Counters of one upstream pool; plain numbers, read through `snapshot()`. */
export class PoolStats {
  hits = 0;
  agedHits = 0;
  misses = 0;
  synsSent = 0;
  synAcks = 0;
  synAckRetransmits = 0;
  expiredUnused = 0;
  deadOnUse = 0;
  readonly evicted: Record<EvictReason, number> = {
    reset: 0,
    'retransmit-overdue': 0,
    'handoff-failed': 0,
    refreshed: 0,
    'driver-released': 0,
    'sibling-dead': 0,
  };
  readonly failures: FailureCounts = { timeouts: 0, refused: 0, openErrors: 0, releaseErrors: 0, answerDropped: 0, isolatedTimeouts: 0 };

  private rttEwma: number | null = null;
  private rttLast: number | null = null;
  private rttSamples = 0;
  private readonly rttBuckets: number[] = new Array<number>(RTT_BUCKET_BOUNDS_MS.length + 1).fill(0);

  recordRtt(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.rttLast = ms;
    this.rttSamples += 1;
    this.rttEwma = this.rttEwma === null ? ms : this.rttEwma + RTT_EWMA_ALPHA * (ms - this.rttEwma);
    let i = RTT_BUCKET_BOUNDS_MS.findIndex((b) => ms <= b);
    if (i < 0) i = RTT_BUCKET_BOUNDS_MS.length;
    this.rttBuckets[i] = (this.rttBuckets[i] ?? 0) + 1;
  }

  /** EWMA of the SYN-ACK RTT, 0 before any sample. */
  get rttMs(): number {
    return this.rttEwma ?? 0;
  }

  rtt(): RttSnapshot {
    return {
      ewmaMs: this.rttEwma,
      lastMs: this.rttLast,
      samples: this.rttSamples,
      bucketBoundsMs: RTT_BUCKET_BOUNDS_MS,
      bucketCounts: [...this.rttBuckets],
    };
  }
}
