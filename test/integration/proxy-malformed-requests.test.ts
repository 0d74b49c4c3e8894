import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientErrorRecord } from '../../src/proxy/proxy-server.js';
import { echoHandler, rawExchange, startProxy, startUpstream, type Proxied, type Upstream } from './proxy-harness.js';

let proxied: Proxied | undefined;
let upstream: Upstream | undefined;

afterEach(async () => {
  await proxied?.close();
  await upstream?.close();
  proxied = undefined;
  upstream = undefined;
});

async function setUp(server: Parameters<typeof startProxy>[1] = {}): Promise<{ clientErrors: ClientErrorRecord[]; hits: () => number }> {
  let hits = 0;
  upstream = await startUpstream((req, res) => {
    hits++;
    echoHandler(req, res);
  });
  proxied = await startProxy(upstream.url, server);
  const clientErrors: ClientErrorRecord[] = [];
  proxied.proxy.on('client-error', (e) => clientErrors.push(e));
  return { clientErrors, hits: () => hits };
}

/** Sends bytes; resolves with what came back and how long until the proxy closed the connection. */
async function exchangeTimed(port: number, bytes: string, timeoutMs: number): Promise<{ reply: string; closedAfterMs: number }> {
  const started = performance.now();
  const reply = await rawExchange(port, bytes, timeoutMs);
  return { reply, closedAfterMs: performance.now() - started };
}

describe('proxy: malformed requests are answered, then the connection closed (RFC 9112)', () => {
  it.each([
    ['an unknown transfer coding → 501', 'Transfer-Encoding: xchunked\r\n\r\n', 501, 'HPE_INVALID_TRANSFER_ENCODING'],
    ['a known coding without chunked last → 400', 'Transfer-Encoding: gzip\r\n\r\n', 400, 'HPE_INVALID_TRANSFER_ENCODING'],
    ['an invalid chunk size → 400', 'Transfer-Encoding: chunked\r\n\r\nzz\r\n', 400, 'HPE_INVALID_CHUNK_SIZE'],
    ['a 2^64 chunk size → 400', 'Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n', 400, 'HPE_INVALID_CHUNK_SIZE'],
    ['a bad chunk after good ones → 400', 'Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n-1\r\n', 400, 'HPE_INVALID_CHUNK_SIZE'],
  ])('%s', async (_name, rest, status, code) => {
    const { clientErrors } = await setUp();
    const { reply, closedAfterMs } = await exchangeTimed(proxied!.port, `POST /upload HTTP/1.1\r\nHost: x\r\n${rest}`, 3_000);
    expect(reply).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(reply).toMatch(/\r\nConnection: close\r\n/i);
    expect(closedAfterMs).toBeLessThan(2_000);
    expect(clientErrors).toEqual([{ code, status }]);
    expect(proxied!.records.at(-1)).toMatchObject({ status, error: code });
  });

  it.each([
    ['one line, as an HTTP/0.9 client sends it', 'GET /\r\n'],
    ['the line and an empty line', 'GET /\r\n\r\n'],
    ['a bare LF', 'GET /index.html\n'],
  ])('an HTTP/0.9 request line (no version) gets a 400 at once and never reaches the upstream: %s', async (_name, bytes) => {
    const { clientErrors, hits } = await setUp();
    const { reply, closedAfterMs } = await exchangeTimed(proxied!.port, bytes, 3_000);
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(reply).toMatch(/\r\nConnection: close\r\n/i);
    expect(closedAfterMs).toBeLessThan(1_000);
    expect(hits()).toBe(0);
    expect(clientErrors).toEqual([{ code: 'HTTP_0_9', status: 400 }]);
  });

  it('an HTTP/0.9 line that arrives in pieces is judged once its end arrives, then answered at once', async () => {
    const { clientErrors, hits } = await setUp();
    const socket = net.connect(proxied!.port, '127.0.0.1');
    await once(socket, 'connect');
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    const closed = once(socket, 'close');
    socket.write('GET /ind');
    await new Promise((r) => setTimeout(r, 50));
    expect(reply).toBe('');
    const sent = performance.now();
    socket.write('ex.html\r\n');
    await closed;
    expect(performance.now() - sent).toBeLessThan(1_000);
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(hits()).toBe(0);
    expect(clientErrors).toEqual([{ code: 'HTTP_0_9', status: 400 }]);
  });

  it('a request line or head that never completes gets a 408 after clientHeadersTimeoutMs', async () => {
    const { clientErrors } = await setUp({ server: { clientHeadersTimeoutMs: 400 } });
    for (const partial of ['GET / HTTP/1.1', 'GET / HTTP/1.1\r\nHost: x\r\n']) {
      const { reply, closedAfterMs } = await exchangeTimed(proxied!.port, partial, 5_000);
      expect(reply).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(closedAfterMs).toBeGreaterThanOrEqual(350);
      expect(closedAfterMs).toBeLessThan(2_500);
    }
    expect(clientErrors.map((e) => e.status)).toEqual([408, 408]);
  });

  it('a request line split over several segments, then pipelined requests, are all served', async () => {
    await setUp();
    const socket = net.connect(proxied!.port, '127.0.0.1');
    await once(socket, 'connect');
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    const closed = once(socket, 'close'); // the answer to the last part may come before the loop ends
    for (const part of ['GE', 'T /a HT', 'TP/1.1\r\nHost: x\r\n', '\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']) {
      socket.write(part);
      await new Promise((r) => setTimeout(r, 30));
    }
    await closed;
    expect(reply.match(/HTTP\/1\.1 200 OK\r\n/g), reply).toHaveLength(2);
  });

  it('shutdown cuts a connection that never sent its request line', async () => {
    await setUp();
    const socket = net.connect(proxied!.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    const closed = once(socket, 'close');
    const started = performance.now();
    await proxied!.close();
    proxied = undefined;
    await closed;
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('a slow but complete head within clientHeadersTimeoutMs is served', async () => {
    await setUp({ server: { clientHeadersTimeoutMs: 2_000 } });
    const socket = net.connect(proxied!.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /slow HTTP/1.1\r\n');
    await new Promise((r) => setTimeout(r, 300));
    socket.write('Host: x\r\nConnection: close\r\n\r\n');
    let reply = '';
    socket.on('data', (c: Buffer) => (reply += c.toString('latin1')));
    await once(socket, 'close');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});
