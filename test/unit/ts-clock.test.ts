import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { tsClockNow, tsOffsetFor } from '../../src/handshake/ts-clock.js';

describe('the TCP timestamp clock', () => {
  it('is the host monotonic clock plus an offset from the boot id: the same in every synpool process on the host', () => {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8');
    // What any other process computes from the same two host values, now.
    const expected = (tsOffsetFor(bootId) + Number(process.hrtime.bigint() / 1_000_000n)) >>> 0;
    const got = tsClockNow();
    const apart = (got - expected) | 0; // mod 2^32, signed
    expect(Math.abs(apart)).toBeLessThanOrEqual(3);
    expect(got % 2).toBe(0);
  });

  it('never goes back, and moves with time', async () => {
    const a = tsClockNow();
    await new Promise((r) => setTimeout(r, 20));
    const b = tsClockNow();
    expect((b - a) | 0).toBeGreaterThanOrEqual(18);
    expect((b - a) | 0).toBeLessThan(1_000);
  });

  it('the offset depends on the boot id only, and hides it', () => {
    expect(tsOffsetFor('d570f4cc-2fb7-4b68-bf7f-6cc7b83acee9\n')).toBe(tsOffsetFor('d570f4cc-2fb7-4b68-bf7f-6cc7b83acee9'));
    expect(tsOffsetFor('d570f4cc-2fb7-4b68-bf7f-6cc7b83acee9')).not.toBe(tsOffsetFor('d570f4cc-2fb7-4b68-bf7f-6cc7b83acee8'));
    expect(tsOffsetFor('x')).toBeGreaterThanOrEqual(0);
    expect(tsOffsetFor('x')).toBeLessThan(2 ** 32);
  });
});
