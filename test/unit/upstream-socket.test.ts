// The upstream socket class: undici's informational errors are not formatted on
// destroy; any other error keeps its stack; both still reach 'error' listeners.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { errors } from 'undici';
import { UpstreamSocket } from '../../src/util/upstream-socket.js';

describe('UpstreamSocket', () => {
  it("destroy() with undici's informational error: its stack is its name and message, and it is still emitted", async () => {
    const s = new UpstreamSocket();
    const err = new errors.InformationalError('reset');
    const emitted = once(s, 'error');
    s.destroy(err);
    const [got] = (await emitted) as [Error];
    expect(got).toBe(err);
    expect(err.stack).toBe(`${err.name}: reset`);
    expect((err as { code?: string }).code).toBe('UND_ERR_INFO');
  });

  it('destroy() with any other error leaves its stack alone', async () => {
    const s = new UpstreamSocket();
    const err = new errors.SocketError('other side closed');
    const emitted = once(s, 'error');
    s.destroy(err);
    await emitted;
    expect(err.stack).toMatch(/\n\s+at /);
  });

  it('destroy() without an error closes without one', async () => {
    const s = new UpstreamSocket();
    let errored = false;
    s.on('error', () => (errored = true));
    const closed = once(s, 'close');
    s.destroy();
    await closed;
    expect(s.destroyed).toBe(true);
    expect(errored).toBe(false);
  });
});
