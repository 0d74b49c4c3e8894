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
}

/** Below this fraction of an entry, a demand estimate rounds down (an idle pool's target settles). */
const ROUND_DOWN_BELOW = 0.05;

/**
 * Entries needed to cover demand while a replacement is on its way:
 * ceil(demand × refill time × safety) + burst, where the refill time is the
 * SYN-ACK round trip plus a margin.
 */
export function demandTarget(input: SizingInput): number {
  const refillSec = (Math.max(0, input.synAckRttMs) + input.refillMarginMs) / 1000;
  const needed = input.demandPerSec * refillSec * input.safetyFactor;
  return Math.max(0, Math.ceil(needed - ROUND_DOWN_BELOW)) + input.burstEntries;
}

/** The target the pool refills to: the computed one, at least minSize, never above maxSize or the backlog cap. */
export function clampTarget(computed: number, minSize: number, maxSize: number, cap: number): number {
  return Math.min(cap, Math.max(minSize, Math.min(maxSize, computed)));
}
