import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { echoHandler, rawExchange, request, startProxy, startUpstream, type Proxied, type Upstream } from './proxy-harness.js';

let upstream: Upstream | undefined;
let proxied: Proxied | undefined;

afterEach(async () => {
  await proxied?.close();
  await upstream?.close();
  proxied = undefined;
  upstream = undefined;
});

async function* chunks(total: number, size: number): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += size) {
    yield Buffer.alloc(Math.min(size, total - sent), sent % 251);
    await new Promise((r) => setImmediate(r));
  }
}

describe('proxy: methods and bodies', () => {
  it.each(['GET', 'POST', 'PUT', 'DELETE'])('%s reaches the upstream with its path and query', async (method) => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const body = method === 'GET' || method === 'DELETE' ? undefined : 'hello';
    const res = await request(proxied.port, { method, path: '/a/b?c=d', body });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body.toString()) as { method: string; url: string; bytes: number };
    expect(seen).toMatchObject({ method, url: '/a/b?c=d', bytes: body?.length ?? 0 });
    expect(proxied.records.at(-1)).toMatchObject({ method, path: '/a/b?c=d', status: 200, connection: 'plain' });
  });

  it.each([
    ['0 B', 0],
    ['1 B', 1],
    ['10 MB', 10 * 1024 * 1024],
  ])('streams a %s body both ways with content-length', async (_name, size) => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const payload = Buffer.alloc(size, 7);
    const res = await request(proxied.port, { method: 'POST', path: '/echo', body: payload });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(size);
    expect(res.body.equals(payload)).toBe(true);
  });

  it('streams a chunked request body and a chunked response', async () => {
    let sawChunked = false;
    upstream = await startUpstream((req, res) => {
      sawChunked = req.headers['transfer-encoding'] === 'chunked';
      echoHandler(req, res);
    });
    proxied = await startProxy(upstream.url);
    const total = 3 * 1024 * 1024 + 17;
    const res = await request(proxied.port, { method: 'PUT', path: '/echo', body: chunks(total, 64 * 1024) });
    expect(res.status).toBe(200);
    expect(sawChunked).toBe(true);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.body.length).toBe(total);
  });

  it('does not buffer: the first response bytes arrive before the upstream finishes', async () => {
    let finish: (() => void) | undefined;
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first;');
      finish = () => res.end('last');
    });
    proxied = await startProxy(upstream.url);
    const got = await new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: proxied!.port, path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
          if (text === 'first;') finish?.();
        });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
    });
    expect(got).toBe('first;last');
  });
});

describe('proxy: connections', () => {
  it('reuses a keep-alive upstream connection: the second request records "reused"', async () => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await request(proxied.port, { path: '/1', agent });
    await request(proxied.port, { path: '/2', agent });
    agent.destroy();
    expect(proxied.records.map((r) => r.connection)).toEqual(['plain', 'reused']);
    expect(upstream.connections.size).toBe(1);
  });

  it('upstream Connection: close → every request gets a new connection', async () => {
    upstream = await startUpstream((req, res) => {
      res.setHeader('connection', 'close');
      echoHandler(req, res);
    });
    proxied = await startProxy(upstream.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const first = await request(proxied.port, { path: '/1', agent });
    await request(proxied.port, { path: '/2', agent });
    await request(proxied.port, { path: '/3', agent });
    agent.destroy();
    expect(first.headers.connection).not.toBe('close'); // hop-by-hop: the client keeps its keep-alive
    expect(proxied.records.map((r) => r.connection)).toEqual(['plain', 'plain', 'plain']);
    expect(upstream.connections.size).toBe(3);
  });

  it('keeps the client connection alive across requests', async () => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const a = await request(proxied.port, { path: '/1', agent });
    const b = await request(proxied.port, { path: '/2', agent });
    agent.destroy();
    expect(a.socketPort).toBe(b.socketPort);
  });
});

describe('proxy: headers and destination', () => {
  it('removes hop-by-hop headers and adds X-Forwarded-* and Via both ways', async () => {
    upstream = await startUpstream((req, res) => {
      res.setHeader('keep-alive', 'timeout=5');
      res.setHeader('x-drop-me', '1');
      res.setHeader('connection', 'x-drop-me');
      res.setHeader('proxy-authenticate', 'Basic');
      echoHandler(req, res);
    });
    proxied = await startProxy(upstream.url);
    const res = await request(proxied.port, {
      path: '/h',
      headers: { connection: 'x-secret', 'x-secret': 's', 'proxy-authorization': 'p', te: 'trailers', 'x-forwarded-for': '203.0.113.9', via: '1.0 edge', host: 'public.example' },
    });
    const seen = JSON.parse(res.body.toString()) as { headers: Record<string, string> };
    // undici adds its own Connection for its hop; the client's token list is gone.
    expect(seen.headers.connection).toBe('keep-alive');
    for (const h of ['x-secret', 'proxy-authorization', 'te', 'keep-alive', 'transfer-encoding', 'upgrade']) {
      expect(seen.headers[h], h).toBeUndefined();
    }
    // 127.0.0.1 is not a trusted proxy (none by default): its forged chain is replaced.
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('public.example');
    expect(seen.headers.via).toBe('1.0 edge, 1.1 synpool');
    expect(seen.headers.host).toBe(`127.0.0.1:${upstream.port}`);
    expect(res.headers['x-drop-me']).toBeUndefined();
    expect(res.headers['proxy-authenticate']).toBeUndefined();
    expect(res.headers.via).toBe('1.1 synpool');
  });

  it('preserveHost forwards the client Host header', async () => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url, { server: { preserveHost: true } });
    const res = await request(proxied.port, { path: '/', headers: { host: 'public.example:8443' } });
    expect((JSON.parse(res.body.toString()) as { headers: Record<string, string> }).headers.host).toBe('public.example:8443');
  });

  it('an absolute-form target cannot change the destination: only its path is used', async () => {
    upstream = await startUpstream(echoHandler);
    const elsewhere = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const reply = await rawExchange(
      proxied.port,
      `GET http://127.0.0.1:${elsewhere.port}/stolen?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${elsewhere.port}\r\nConnection: close\r\n\r\n`,
    );
    await elsewhere.close();
    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).toContain('"url":"/stolen?x=1"');
    expect(elsewhere.connections.size).toBe(0);
    expect(upstream.connections.size).toBe(1);
  });

  it('a malformed request gets 400, its connection is closed, and the proxy keeps serving', async () => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const errors: string[] = [];
    proxied.proxy.on('client-error', (e) => errors.push(e.code));
    const reply = await rawExchange(proxied.port, 'GARBAGE \x01\x02 nonsense\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(errors.length).toBe(1);
    const res = await request(proxied.port, { path: '/still-alive' });
    expect(res.status).toBe(200);
  });

  it('a request target that is neither origin- nor absolute-form gets 400', async () => {
    upstream = await startUpstream(echoHandler);
    proxied = await startProxy(upstream.url);
    const reply = await rawExchange(proxied.port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect(upstream.connections.size).toBe(0);
  });
});

describe('proxy: a client that goes away', () => {
  it('aborts the upstream request', async () => {
    let upstreamClosed: () => void = () => undefined;
    const closed = new Promise<void>((r) => (upstreamClosed = r));
    upstream = await startUpstream((_req, res) => {
      res.writeHead(200);
      res.write('partial');
      res.on('close', () => upstreamClosed());
    });
    proxied = await startProxy(upstream.url);
    await new Promise<void>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: proxied!.port, path: '/', agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', () => undefined);
    });
    await closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(proxied.records.at(-1)).toMatchObject({ aborted: true, status: 499 });
  });
});

