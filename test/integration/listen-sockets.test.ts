// The supervisor's listeners, on loopback with the real kernel: one SO_REUSEPORT
// socket per worker on one port, and a port another process holds is refused
// with the listener's name, not silently shared.
import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { openListeners, type ListenSockets } from '../../src/process/listen-sockets.js';
import { ListenError } from '../../src/errors.js';

const opened: ListenSockets[] = [];
const servers: net.Server[] = [];
afterEach(async () => {
  for (const l of opened.splice(0)) l.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('openListeners', () => {
  it('binds N sockets to one port (the first one picks it) and each accepts connections', async () => {
    // The node servers below take the fds over (and close them): not closed again here.
    const l = await openListeners('listen', '127.0.0.1:0', 3, true);
    expect(l.fds).toHaveLength(3);
    expect(l.port).toBeGreaterThan(0);
    // Each fd is a listening socket a node server can take over, as a worker does.
    const accepted: number[] = [];
    for (const [i, fd] of l.fds.entries()) {
      const s = net.createServer((c) => {
        accepted.push(i);
        c.end();
      });
      servers.push(s);
      s.listen({ fd });
      await once(s, 'listening');
      expect((s.address() as net.AddressInfo).port).toBe(l.port);
    }
    for (let i = 0; i < 30; i++) {
      const c = net.connect(l.port, '127.0.0.1');
      await once(c, 'close');
    }
    expect(accepted).toHaveLength(30);
    // The kernel spreads connections by their 4-tuple hash: 30 from different ports reach more than one socket.
    expect(new Set(accepted).size).toBeGreaterThan(1);
  });

  it('refuses a port another socket holds, naming the listener and the reason', async () => {
    const other = net.createServer();
    servers.push(other);
    other.listen(0, '127.0.0.1');
    await once(other, 'listening');
    const port = (other.address() as net.AddressInfo).port;
    const err = await openListeners('listen', `127.0.0.1:${port}`, 2, true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect((err as Error).message).toBe(`cannot listen on 127.0.0.1:${port} (listen): address already in use`);
  });

  it('refuses a port a first synpool holds with SO_REUSEPORT (no silent sharing between two instances)', async () => {
    const first = await openListeners('listen', '127.0.0.1:0', 2, true);
    opened.push(first);
    const err = await openListeners('listen', `127.0.0.1:${first.port}`, 2, true).catch((e: unknown) => e);
    expect((err as Error).message).toContain('address already in use');
  });
});
