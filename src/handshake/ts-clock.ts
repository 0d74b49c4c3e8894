import { randomInt } from 'node:crypto';

// Our TCP timestamp clock: milliseconds from a random base, always even.
// The SYN's TSval and the repaired socket's TCP_TIMESTAMP both come from it,
// so the value after the handoff is the SYN's plus the time elapsed (PAWS-safe).
const base = randomInt(0, 2 ** 31);

export function tsClockNow(): number {
  return ((base + Math.floor(performance.now())) & ~1) >>> 0;
}
