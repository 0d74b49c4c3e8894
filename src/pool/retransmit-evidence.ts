/**
 * Whether this upstream's SYN-ACK retransmits can be used as a liveness signal.
 *
 * A Linux server that holds a request socket (SYN_RECV) retransmits its
 * SYN-ACK at about 1, 3, 7, 15, 31 s; a missing retransmit then means the
 * server dropped the entry (a restart, pruning under SYN-queue pressure). A
 * server that answers with SYN cookies (`tcp_syncookies=2`, or a SYN flood)
 * keeps no state and never retransmits, yet its entries stay usable for
 * minutes. On the wire both look the same for one entry, so the pool decides
 * per upstream: a missing retransmit is evidence of death only while this
 * upstream has been seen retransmitting within the last `windowMs`. An
 * upstream that never retransmits keeps its entries until their TTL; if one
 * of them did die, its first use is answered with a RST before any byte is
 * acknowledged (SYNPOOL_ERR_POOLED_RESET) and reportDead() learns from that.
 */
export class RetransmitEvidence {
  private lastSeenAt = -Infinity;

  /**
   * @param windowMs how long one observed retransmit vouches for the
   *   upstream (plus the overdue grace): at least the longest gap between two
   *   retransmits (16 s for Linux's default schedule), or a restart between
   *   two retransmits would go unseen.
   */
  constructor(private readonly windowMs: number) {}

  /** A SYN-ACK retransmit arrived for one of this upstream's entries. */
  seen(nowMs: number): void {
    this.lastSeenAt = nowMs;
  }

  /** True while a missing retransmit means a dead entry; `graceMs` is the lateness the overdue check allows. */
  trusted(nowMs: number, graceMs: number): boolean {
    return nowMs - this.lastSeenAt <= this.windowMs + graceMs;
  }
}

/**
 * The trust window for a retransmit schedule: the whole schedule
 * (first × 2^retries, 32 s for 1 s and 5 retries), twice the longest gap
 * between two retransmits (first × 2^(retries−1)).
 */
export function retransmitTrustWindowMs(firstMs: number, retries: number): number {
  return firstMs * 2 ** Math.max(1, retries);
}
