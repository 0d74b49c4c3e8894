import type { UpstreamState } from './backoff.js';
import type { EvictReason, FailureCounts, RttSnapshot } from './pool-stats.js';
import type { TtlChange } from './ttl-learner.js';

/** Why a SYN went out. */
export type OpenPurpose = 'fill' | 'refresh' | 'retry' | 'probe';

export type MissReason = 'empty' | 'unknown-upstream' | 'not-started' | 'closed';

/**
 * 'answer-dropped': a timeout while our channel dropped packets; 'isolated-timeout': a timeout
 * while a SYN sent at the same time or later was answered. Neither is held against the upstream.
 */
export type SynFailure = 'timeout' | 'refused' | 'open-error' | 'answer-dropped' | 'isolated-timeout';

/**
 * Events of PoolManager; `upstream` is always `address:port`. Emitted
 * synchronously from the pool's tick, take() or a driver event: listeners
 * should be quick and must not throw.
 */
export interface PoolEvents {
  'entry-ready': [e: { upstream: string; id: number; rttMs: number }];
  'entry-expired': [e: { upstream: string; id: number; ageMs: number }];
  'entry-evicted': [e: { upstream: string; id: number; reason: EvictReason; ageMs: number }];
  /**
   * fullWindow false: no entry within maxSynAckRetransmits was ready, so an
   * older one went out (the server starts it with a congestion window of 1).
   */
  hit: [e: { upstream: string; id: number; ageMs: number; synAcks: number; fullWindow: boolean }];
  miss: [e: { upstream: string; reason: MissReason }];
  'syn-sent': [e: { upstream: string; id: number; purpose: OpenPurpose }];
  'syn-failed': [e: { upstream: string; reason: SynFailure; id: number | null; error: unknown }];
  'upstream-state': [
    e: { upstream: string; from: UpstreamState; to: UpstreamState; consecutiveFailures: number; nextAttemptInMs: number },
  ];
  'ttl-learned': [e: { upstream: string } & TtlChange];
  /** The pool stopped (true) or resumed (false) opening entries: passive health ejected or readmitted its server. */
  paused: [e: { upstream: string; paused: boolean }];
}

export type PoolEmit = <K extends keyof PoolEvents>(name: K, ...args: PoolEvents[K]) => void;

/** A plain, JSON-friendly picture of one upstream pool. */
export interface PoolSnapshot {
  /** `address:port`. */
  readonly upstream: string;
  readonly state: UpstreamState;
  /** True while passive health has the server ejected: no SYN leaves (PoolManager.pause). */
  readonly paused: boolean;
  /** Established entries waiting in the pool. */
  readonly ready: number;
  /** SYNs out, no SYN-ACK yet. */
  readonly pending: number;
  /** Demand-based (or fixed) target before clamping. */
  readonly computedTarget: number;
  /** What the pool refills to: computedTarget clamped to minSize..maxSize and the cap. */
  readonly targetReady: number;
  /** Hard limit on ready + pending. */
  readonly cap: number;
  /** Measured take() rate (EWMA), per second. */
  readonly demandPerSec: number;
  /** The largest burst of takes within one refill time in the last burstMemoryMs (demand sizing keeps at least this many). */
  readonly burstPeak: number;
  readonly hits: number;
  /** Hits that had to hand out an entry past maxSynAckRetransmits (nothing younger was ready). */
  readonly agedHits: number;
  readonly misses: number;
  readonly expiredUnused: number;
  readonly evicted: Readonly<Record<EvictReason, number>>;
  /** Entries handed out and reset on first use before any byte was acknowledged (reportDead() calls that counted). */
  readonly deadOnUse: number;
  readonly synsSent: number;
  /** First SYN-ACKs (entries that became ready). */
  readonly synAcks: number;
  /** SYN-ACK retransmits seen for ready entries (not new entries). */
  readonly synAckRetransmits: number;
  readonly failures: Readonly<FailureCounts> & { readonly consecutive: number };
  readonly synAckRtt: RttSnapshot;
  readonly effectiveTtlMs: number;
  readonly configuredTtlMs: number;
  readonly learned: { readonly earlyDeaths: number; readonly observedLifetimeMs: number | null };
  /**
   * Whether a missing SYN-ACK retransmit currently counts as a dead entry:
   * true while this upstream has been seen retransmitting recently; false
   * for an upstream answering with SYN cookies (or whose entries are all
   * used before their first retransmit).
   */
  readonly retransmitsTrusted: boolean;
}
