import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import { Registry } from 'prom-client';
import { WebSocket } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { attachProxyMetrics } from '../../src/observability/proxy-metrics.js';
import type { UpgradeRecord } from '../../src/proxy/upgrade-exchange.js';
import { ReadySource } from '../helpers/ready-source.js';
import { startWebSocketEchoServer, type WebSocketEchoServer } from '../helpers/websocket-echo-server.js';
import { rawExchange, startProxy, startUpstream, type Proxied, type Upstream } from './proxy-harness.js';

let proxied: Proxied | undefined;
let closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await proxied?.close();
  proxied = undefined;
  for (const c of closers.reverse()) await c();
  closers = [];
});

function upgrades(p: Proxied): UpgradeRecord[] {
  const list: UpgradeRecord[] = [];
  p.proxy.on('upgrade', (r) => list.push(r));
  return list;
}

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Opens a WebSocket through the proxy; collects the messages it receives. */
async function openWebSocket(port: number): Promise<{ ws: WebSocket; messages: string[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/chat?room=1`);
  const messages: string[] = [];
  ws.addEventListener('message', (e) => messages.push(String(e.data)));
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('websocket failed to open')), { once: true });
  });
  return { ws, messages };
}

/** A TCP upstream that switches to a line protocol on `Upgrade: echo` and is scripted per test. */
async function startRawUpgradeUpstream(onTunnel: (socket: Socket, rest: Buffer) => void): Promise<{ port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer): void => {
      buf = Buffer.concat([buf, c]);
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.off('data', onData);
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
      onTunnel(socket, buf.subarray(end + 4));
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Sends an `Upgrade: echo` request on a raw socket and waits for the 101 head. */
async function upgradeRaw(port: number): Promise<{ socket: Socket; head: string; received: () => string }> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await once(socket, 'connect');
  socket.write('GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n');
  let data = '';
  socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
  await until(() => data.includes('\r\n\r\n'));
  const end = data.indexOf('\r\n\r\n') + 4;
  return { socket, head: data.slice(0, end), received: () => data.slice(end) };
}

describe('proxy: upgrades (RFC 9110 §7.8)', () => {
  let ws: WebSocketEchoServer;

  it('relays a WebSocket session: 101 with the upstream headers, messages both ways, close', async () => {
    ws = await startWebSocketEchoServer();
    closers.push(() => ws.close());
    proxied = await startProxy(ws.url);
    const registry = new Registry();
    attachProxyMetrics(registry, proxied.proxy, proxied.agent);
    const records = upgrades(proxied);

    const { ws: client, messages } = await openWebSocket(proxied.port);
    await until(() => messages.includes('hello')); // upstream → client, unprompted
    client.send('one');
    client.send('two');
    await until(() => messages.length === 3);
    expect(messages).toEqual(['hello', 'echo:one', 'echo:two']);
    expect(ws.received).toEqual(['one', 'two']);

    const closed = new Promise<number>((resolve) => client.addEventListener('close', (e) => resolve(e.code), { once: true }));
    client.close(4000, 'done');
    expect(await closed).toBe(4000);
    expect(ws.closeCodes).toEqual([4000]);
    await until(() => records.length === 1);

    const seen = ws.upgradeHeaders[0] ?? {};
    expect(seen.upgrade).toBe('websocket');
    expect(String(seen.connection).toLowerCase()).toContain('upgrade');
    expect(seen['sec-websocket-key']).toBeTypeOf('string');
    expect(seen.via).toBe('1.1 synpool');
    expect(records[0]).toMatchObject({ outcome: 'tunneled', status: 101, protocol: 'websocket', path: '/chat?room=1', connection: 'plain' });
    expect(['client', 'upstream']).toContain(records[0]?.closedBy);
    expect(records[0]?.bytesFromClient).toBeGreaterThan(0);
    expect(records[0]?.bytesToClient).toBeGreaterThan(0);
    expect(proxied.records.at(-1)).toMatchObject({ status: 101, upgrade: 'websocket' });
    expect(await registry.getSingleMetricAsString('synpool_upgrades_total')).toContain('synpool_upgrades_total{outcome="tunneled"} 1');
  });

  it('writes the 101 with the upstream headers and a Via', async () => {
    ws = await startWebSocketEchoServer();
    closers.push(() => ws.close());
    proxied = await startProxy(ws.url);
    const socket = net.connect(proxied.port, '127.0.0.1');
    closers.push(() => void socket.destroy());
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    await until(() => data.includes('\r\n\r\n'));
    const head = data.slice(0, data.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toMatch(/\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/i);
    expect(head).toMatch(/\r\nupgrade: websocket/i);
    expect(head).toMatch(/\r\nconnection: upgrade/i);
    expect(head).toMatch(/\r\nx-upstream: ws-echo/i);
    expect(head).toMatch(/\r\nvia: 1\.1 synpool/i);
  });

  it('goes over a pooled connection when the source has one ready', async () => {
    ws = await startWebSocketEchoServer();
    closers.push(() => ws.close());
    const source = new ReadySource();
    closers.push(() => source.close());
    await source.warm({ address: '127.0.0.1', port: ws.port }, 1);
    proxied = await startProxy(ws.url, { agent: { source } });
    const records = upgrades(proxied);
    const { ws: client, messages } = await openWebSocket(proxied.port);
    client.send('via-pool');
    await until(() => messages.includes('echo:via-pool'));
    client.close(1000);
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({ outcome: 'tunneled', connection: 'pool' });
  });

  it('relays an upstream that does not switch (200) as a normal response, sent once, then closes', async () => {
    let hits = 0;
    const upstream: Upstream = await startUpstream((req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'text/plain', 'x-seen-upgrade': String(req.headers.upgrade) });
      res.end('no upgrade here');
    });
    closers.push(() => upstream.close());
    proxied = await startProxy(upstream.url);
    const records = upgrades(proxied);
    const reply = await rawExchange(proxied.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: foo/1\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(reply).toMatch(/\r\nx-seen-upgrade: foo\/1\r\n/i);
    expect(reply).toMatch(/\r\nconnection: close\r\n/i);
    expect(reply.endsWith('\r\n\r\nno upgrade here')).toBe(true);
    expect(hits).toBe(1);
    expect(records[0]).toMatchObject({ outcome: 'refused', status: 200, protocol: 'foo/1' });
  });

  it('relays an upstream 400 to a non-WebSocket upgrade', async () => {
    ws = await startWebSocketEchoServer();
    closers.push(() => ws.close());
    proxied = await startProxy(ws.url);
    const reply = await rawExchange(proxied.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(ws.upgradeHeaders).toHaveLength(1);
  });

  it('passes a half-close on: the client FIN reaches the upstream, which can still answer', async () => {
    let upstreamSawEnd = false;
    const up = await startRawUpgradeUpstream((socket) => {
      socket.on('data', (c: Buffer) => socket.write(`got:${c.toString()}`));
      socket.on('end', () => {
        upstreamSawEnd = true;
        setTimeout(() => socket.end('bye'), 50);
      });
    });
    closers.push(() => up.close());
    proxied = await startProxy(`http://127.0.0.1:${up.port}`);
    const records = upgrades(proxied);
    const { socket, head, received } = await upgradeRaw(proxied.port);
    closers.push(() => void socket.destroy());
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    socket.write('ping');
    await until(() => received() === 'got:ping');
    socket.end();
    await once(socket, 'end');
    expect(upstreamSawEnd).toBe(true);
    expect(received()).toBe('got:pingbye');
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({ outcome: 'tunneled', closedBy: 'client', bytesFromClient: 4, bytesToClient: 11 });
  });

  it('closes an idle tunnel after upgradeIdleTimeoutMs', async () => {
    const up = await startRawUpgradeUpstream(() => undefined);
    closers.push(() => up.close());
    proxied = await startProxy(`http://127.0.0.1:${up.port}`, { server: { upgradeIdleTimeoutMs: 300 } });
    const records = upgrades(proxied);
    const started = performance.now();
    const { socket } = await upgradeRaw(proxied.port);
    socket.on('error', () => undefined);
    closers.push(() => void socket.destroy());
    await once(socket, 'end'); // the proxy's FIN
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(3_000);
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({ outcome: 'tunneled', closedBy: 'idle-timeout' });
  });

  it('cuts the client when the upstream resets the tunnel', async () => {
    const up = await startRawUpgradeUpstream((socket) => socket.on('data', () => socket.resetAndDestroy()));
    closers.push(() => up.close());
    proxied = await startProxy(`http://127.0.0.1:${up.port}`);
    const records = upgrades(proxied);
    const { socket } = await upgradeRaw(proxied.port);
    closers.push(() => void socket.destroy());
    const failed = once(socket, 'error') as Promise<[NodeJS.ErrnoException]>;
    socket.write('boom');
    const [err] = await failed;
    expect(err.code).toBe('ECONNRESET'); // passed on as a reset, not a clean FIN
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({ outcome: 'tunneled', closedBy: 'upstream-error', error: 'ECONNRESET' });
  });

  it('proxy shutdown closes an open tunnel', async () => {
    const up = await startRawUpgradeUpstream(() => undefined);
    closers.push(() => up.close());
    proxied = await startProxy(`http://127.0.0.1:${up.port}`);
    const records = upgrades(proxied);
    const { socket } = await upgradeRaw(proxied.port);
    closers.push(() => void socket.destroy());
    socket.on('error', () => undefined);
    const ended = once(socket, 'end');
    await proxied.proxy.close(200);
    await ended;
    await until(() => records.length === 1);
    expect(records[0]).toMatchObject({ outcome: 'tunneled', closedBy: 'shutdown' });
  });

  it('refuses an upgrade request with a body (400) without asking the upstream', async () => {
    ws = await startWebSocketEchoServer();
    closers.push(() => ws.close());
    proxied = await startProxy(ws.url);
    const reply = await rawExchange(proxied.port, 'POST / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\nabc');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(ws.upgradeHeaders).toHaveLength(0);
    expect(proxied.records.at(-1)).toMatchObject({ status: 400, error: 'UPGRADE_WITH_BODY' });
  });

  it('answers 502 when the upstream is down, without a tunnel', async () => {
    const dead = net.createServer();
    dead.listen(0, '127.0.0.1');
    await once(dead, 'listening');
    const port = (dead.address() as AddressInfo).port;
    dead.close();
    proxied = await startProxy(`http://127.0.0.1:${port}`);
    const records = upgrades(proxied);
    const reply = await rawExchange(proxied.port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(records[0]).toMatchObject({ outcome: 'failed', status: 502 });
  });
});
