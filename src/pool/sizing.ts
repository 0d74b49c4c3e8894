/**
 * Demand as an exponentially weighted rate: every take() adds 1/τ and the
 * sum decays as e^(−Δt/τ), with τ = `windowMs`. For a steady stream of λ
 * takes per second the estimate converges to λ; it needs no timer.
 */
export class DemandMeter {
  /** Events per ms, as of `updatedAt`. */
  private rate = 0;
  private updatedAt: number;

  constructor(
    private readonly windowMs: number,
    nowMs: number,
  ) {
    this.updatedAt = nowMs;
  }

  private decayTo(nowMs: number): void {
    if (nowMs > this.updatedAt) {
      this.rate *= Math.exp(-(nowMs - this.updatedAt) / this.windowMs);
      this.updatedAt = nowMs;
    }
  }

  record(nowMs: number): void {
    this.decayTo(nowMs);
    this.rate += 1 / this.windowMs;
  }

  ratePerSec(nowMs: number): number {
    this.decayTo(nowMs);
    return this.rate * 1000;
  }
}

export interface SizingInput {
  /** Measured take() rate, per second. */
  readonly demandPerSec: number;
  /** SYN-ACK round trip (EWMA); 0 before the first sample. */
  readonly synAckRttMs: number;
  readonly refillMarginMs: number;
  readonly safetyFactor: number;
  readonly burstEntries: number;
  /** The recent peak of takes within one refill time (BurstMeter); 0 when none is remembered. */
  readonly burstPeak?: number;
}

/** Below this fraction of an entry, a demand estimate rounds down (an idle pool's target settles). */
const ROUND_DOWN_BELOW = 0.05;

/**
 * Entries needed to cover demand while a replacement is on its way:
 * ceil(demand × refill time × safety) + burst, where the refill time is the
 * SYN-ACK round trip plus a margin; at least the recent burst peak.
 */
export function demandTarget(input: SizingInput): number {
  const refillSec = refillWindowMs(input.synAckRttMs, input.refillMarginMs) / 1000;
  const needed = input.demandPerSec * refillSec * input.safetyFactor;
  return Math.max(Math.max(0, Math.ceil(needed - ROUND_DOWN_BELOW)) + input.burstEntries, input.burstPeak ?? 0);
}

/** The refill time BurstMeter counts takes in: a SYN-ACK round trip plus the margin. */
export function refillWindowMs(synAckRttMs: number, refillMarginMs: number): number {
  return Math.max(0, synAckRttMs) + refillMarginMs;
}

/** The target the pool refills to: the computed one, at least minSize, never above maxSize or the backlog cap. */
export function clampTarget(computed: number, minSize: number, maxSize: number, cap: number): number {
  return Math.min(cap, Math.max(minSize, Math.min(maxSize, computed)));
}

/**
 * The largest number of takes that fell within one refill time (a SYN-ACK round
 * trip plus the margin: what a replacement needs), remembered for `memoryMs`.
 * Takes that close together cannot be served by refilling, only from stock; a
 * rate smooths a burst of 32 every few seconds down to a handful of entries, so
 * demand sizing keeps at least the recent peak. Misses count: the burst that
 * found the pool too small is what the next one needs. Settings are passed per
 * call because a reload may change them.
 */
export class BurstMeter {
  /** Take times within the current refill window, oldest first. */
  private readonly recent: number[] = [];
  /** Window counts by time, counts strictly decreasing: the front is the peak within memory. */
  private readonly peaks: Array<{ at: number; count: number }> = [];

  /** `maxCount` bounds what is counted (the pool's cap: more is never kept anyway); memoryMs 0 records nothing. */
  record(nowMs: number, windowMs: number, memoryMs: number, maxCount: number): void {
    if (memoryMs <= 0) return;
    const recent = this.recent;
    while (recent.length > 0 && recent[0]! <= nowMs - windowMs) recent.shift();
    // The latest maxCount times: the count stays min(takes in the window, maxCount).
    while (recent.length >= Math.max(1, maxCount)) recent.shift();
    recent.push(nowMs);
    const count = recent.length;
    const peaks = this.peaks;
    while (peaks.length > 0 && peaks[peaks.length - 1]!.count <= count) peaks.pop();
    peaks.push({ at: nowMs, count });
  }

  /** The peak within the last memoryMs; 0 when nothing is remembered. */
  peak(nowMs: number, memoryMs: number): number {
    const peaks = this.peaks;
    while (peaks.length > 0 && peaks[0]!.at <= nowMs - memoryMs) peaks.shift();
    return peaks.length > 0 ? peaks[0]!.count : 0;
  }
}
