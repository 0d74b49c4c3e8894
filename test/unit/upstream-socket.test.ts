// The upstream socket class: undici's informational errors are not formatted on
// destroy; any other error keeps its stack; both still reach 'error' listeners. A
// write the server refused (it answered early and closed) waits for the read side.
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { errors } from 'undici';
import { EARLY_RESPONSE_LINGER_MS, UpstreamSocket } from '../../src/util/upstream-socket.js';

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

describe('UpstreamSocket: a write the server refused after answering', () => {
  const listen = async (onConnection: (s: net.Socket) => void): Promise<net.Server> => {
    const server = net.createServer(onConnection);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  };

  it('still reads the answer the server sent before closing, then closes', async () => {
    // A server that refuses an upload by its first bytes: answers at once, closes with the rest unread (RST).
    const server = await listen((s) => {
      s.on('error', () => {});
      s.once('data', () => {
        s.write('HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        s.end();
        setTimeout(() => s.destroy(), 20);
      });
    });
    const client = new UpstreamSocket();
    client.on('error', () => {});
    client.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const closed = new Promise((r) => client.once('close', r));
    // The body goes out before anyone reads (as when undici has not parsed the answer yet), more of it
    // than the socket buffers hold, so one write is refused while the answer waits unread.
    const chunk = Buffer.alloc(64 * 1024, 1);
    let refused: Error | undefined;
    for (let i = 0; i < 400 && refused === undefined && !client.destroyed; i++) {
      const more = client.write(chunk, (err) => (refused ??= err ?? undefined));
      if (!more) await new Promise<void>((r) => setTimeout(r, 20));
    }
    expect((refused as { code?: string } | undefined)?.code).toMatch(/^(EPIPE|ECONNRESET)$/);
    let received = '';
    client.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const t0 = performance.now();
    await closed;
    server.close();
    // Closed by the read side's end, not by the timer.
    expect(performance.now() - t0).toBeLessThan(EARLY_RESPONSE_LINGER_MS / 2);
    // A plain net.Socket was destroyed by the refused write, the answer with it.
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('without an answer, ends with the write error after EARLY_RESPONSE_LINGER_MS', async () => {
    // A peer that says nothing: the read side never ends the wait, so the timer does.
    const server = await listen((s) => s.on('error', () => {}));
    const client = new UpstreamSocket();
    client.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const refused = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    const errored = once(client, 'error');
    const t0 = performance.now();
    client.destroy(refused);
    expect(client.destroyed).toBe(false);
    // Another refused write (the body's next chunk) does not end the wait.
    client.destroy(Object.assign(new Error('write ECONNRESET'), { code: 'ECONNRESET', syscall: 'write' }));
    expect(client.destroyed).toBe(false);
    const [got] = (await errored) as [Error];
    expect(got).toBe(refused);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(EARLY_RESPONSE_LINGER_MS - 5);
    expect(client.destroyed).toBe(true);
    server.close();
  });

  it('a read-side error ends the wait at once, with that error', async () => {
    const server = await listen((s) => s.on('error', () => {}));
    const client = new UpstreamSocket();
    client.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await once(client, 'connect');
    const errored = once(client, 'error');
    client.destroy(Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' }));
    const readError = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    const t0 = performance.now();
    client.destroy(readError);
    const [got] = (await errored) as [Error];
    expect(got).toBe(readError);
    expect(performance.now() - t0).toBeLessThan(EARLY_RESPONSE_LINGER_MS / 2);
    server.close();
  });
});
