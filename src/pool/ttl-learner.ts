export interface TtlLearnerConfig {
  /** Configured TTL: the ceiling of the effective one. */
  readonly ttlMs: number;
  readonly ttlFloorMs: number;
  readonly ttlLearnFactor: number;
  readonly ttlLearnMinSamples: number;
  readonly ttlLearnWindowMs: number;
  readonly ttlRecoveryMs: number;
}

export interface TtlChange {
  readonly previousTtlMs: number;
  readonly ttlMs: number;
  readonly reason: 'early-death' | 'recovery';
  /** The shortest recent lifetime the change is based on (null for recovery). */
  readonly observedLifetimeMs: number | null;
}

export interface TtlLearnerSnapshot {
  readonly configuredTtlMs: number;
  readonly effectiveTtlMs: number;
  /** Entries seen dead before their TTL (RST, overdue retransmit, reportDead), all time. */
  readonly earlyDeaths: number;
  /** Shortest lifetime among observations inside the learning window, or null. */
  readonly observedLifetimeMs: number | null;
}

/** Observations kept; the learning window usually holds far fewer. */
const MAX_OBSERVATIONS = 32;
/** Each recovery step multiplies the effective TTL by this, up to the configured TTL. */
export const TTL_RECOVERY_STEP = 2;

/**
 * Learns how long an upstream really keeps a half-open entry. Each early
 * death is an upper bound on the entry's lifetime; once `ttlLearnMinSamples`
 * of them fall inside `ttlLearnWindowMs`, the effective TTL drops to
 * `ttlLearnFactor` × the shortest of them (never below `ttlFloorMs`). After
 * `ttlRecoveryMs` without an early death it doubles again, up to `ttlMs`:
 * pressure on an upstream is usually temporary.
 */
export class TtlLearner {
  private effective: number;
  private observations: { at: number; lifetimeMs: number }[] = [];
  private deaths = 0;
  private quietSince = -Infinity;

  constructor(private readonly config: TtlLearnerConfig) {
    this.effective = config.ttlMs;
  }

  get ttlMs(): number {
    return this.effective;
  }

  private recent(nowMs: number): { at: number; lifetimeMs: number }[] {
    const from = nowMs - this.config.ttlLearnWindowMs;
    this.observations = this.observations.filter((o) => o.at >= from);
    return this.observations;
  }

  /** An entry turned out dead at `lifetimeMs` after its SYN (or earlier). */
  observe(lifetimeMs: number, nowMs: number): TtlChange | undefined {
    this.deaths += 1;
    this.quietSince = nowMs;
    this.observations.push({ at: nowMs, lifetimeMs: Math.max(0, lifetimeMs) });
    if (this.observations.length > MAX_OBSERVATIONS) this.observations.shift();
    const recent = this.recent(nowMs);
    if (recent.length < this.config.ttlLearnMinSamples) return undefined;
    const shortest = Math.min(...recent.map((o) => o.lifetimeMs));
    const candidate = Math.max(this.config.ttlFloorMs, Math.floor(shortest * this.config.ttlLearnFactor));
    if (candidate >= this.effective) return undefined;
    const previousTtlMs = this.effective;
    this.effective = candidate;
    return { previousTtlMs, ttlMs: candidate, reason: 'early-death', observedLifetimeMs: shortest };
  }

  /** When the next recovery step is due (Infinity when the TTL is not shortened). */
  nextRecoveryAt(): number {
    return this.effective < this.config.ttlMs ? this.quietSince + this.config.ttlRecoveryMs : Infinity;
  }

  /** Lengthens a learned TTL after a quiet period. */
  maybeRecover(nowMs: number): TtlChange | undefined {
    if (nowMs < this.nextRecoveryAt()) return undefined;
    const previousTtlMs = this.effective;
    this.effective = Math.min(this.config.ttlMs, Math.round(this.effective * TTL_RECOVERY_STEP));
    this.quietSince = nowMs;
    return { previousTtlMs, ttlMs: this.effective, reason: 'recovery', observedLifetimeMs: null };
  }

  snapshot(nowMs: number): TtlLearnerSnapshot {
    const recent = this.recent(nowMs);
    return {
      configuredTtlMs: this.config.ttlMs,
      effectiveTtlMs: this.effective,
      earlyDeaths: this.deaths,
      observedLifetimeMs: recent.length === 0 ? null : Math.min(...recent.map((o) => o.lifetimeMs)),
    };
  }
}
