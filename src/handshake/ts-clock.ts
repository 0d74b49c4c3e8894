import { createHash, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';

// Our TCP timestamp clock: milliseconds, always even. The SYN's TSval and the
// repaired socket's TCP_TIMESTAMP both come from it, so the value after the
// handoff is the SYN's plus the time elapsed (PAWS-safe).
//
// It is the host's monotonic clock (CLOCK_MONOTONIC, which libuv's hrtime reads)
// plus an offset derived from the kernel's boot id, so every synpool process on
// the host runs the same clock: a restarted keeper, or a second instance. A pool
// SYN whose local port carried an earlier connection to the same server, closed
// by the server less than a minute ago (its TIME-WAIT), is taken by Linux only
// when its timestamp is newer than that connection's last; from another clock it
// is refused half the time (docs/pool.md, isolated timeouts). The boot id is random
// per boot and readable only on the host, so the value tells a server neither the
// uptime nor the wall clock; the kernel's own connections keep their per-address
// offsets, which nothing outside the kernel can read.

const BOOT_ID = '/proc/sys/kernel/random/boot_id';

/** The clock's offset for a boot id: the first 32 bits of a hash of it. */
export function tsOffsetFor(bootId: string): number {
  return createHash('sha256').update(`synpool tcp timestamp clock\0${bootId.trim()}`).digest().readUInt32BE(0);
}

function hostOffset(): number {
  try {
    return tsOffsetFor(readFileSync(BOOT_ID, 'utf8'));
  } catch {
    // No procfs: a clock of this process's own, as before (TIME-WAIT collisions are then refused more often).
    return randomInt(0, 2 ** 31);
  }
}

/** Host monotonic ms at this process's performance.now() origin, so tsClockNow() costs no BigInt. */
const monotonicAtOrigin = Math.round(Number(process.hrtime.bigint() / 1_000_000n) - performance.now());
const base = hostOffset() + monotonicAtOrigin;

export function tsClockNow(): number {
  return ((base + Math.floor(performance.now())) & ~1) >>> 0;
}
