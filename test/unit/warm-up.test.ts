import { describe, expect, it } from 'vitest';
import { warmUp } from '../../src/proxy/warm-up.js';

describe('warmUp', () => {
  it('runs one request over loopback and leaves nothing open', async () => {
    const before = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((x) => x === 'TCPServerWrap' || x === 'TCPSocketWrap').length;
    const r = await warmUp();
    expect(r.skipped).toBeUndefined();
    expect(r.ms).toBeGreaterThan(0);
    // Closed sockets leave the resource list once libuv has run their close callbacks.
    const count = (): number => (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((x) => x === 'TCPServerWrap' || x === 'TCPSocketWrap').length;
    for (let i = 0; i < 100 && count() > before; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(count()).toBeLessThanOrEqual(before);
  });
});
