/**
 * Paces SYNs: `ratePerSec` tokens per second, at most `burst` saved up.
 * Over any interval of W ms at most `burst + ratePerSec * W / 1000` tokens are taken.
 */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.updatedAt = nowMs;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.updatedAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.updatedAt) * this.ratePerSec) / 1000);
      this.updatedAt = nowMs;
    }
  }

  /** Takes one token if there is one. */
  tryTake(nowMs: number): boolean {
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is available (0 when one is). */
  msUntilToken(nowMs: number): number {
    this.refill(nowMs);
    if (this.tokens >= 1) return 0;
    return Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec);
  }

  available(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens;
  }
}
