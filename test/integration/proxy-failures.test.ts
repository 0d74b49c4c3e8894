import net, { type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PooledConnectionResetError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { ConnectionSource } from '../../src/proxy/connection-source.js';
import type { FallbackEvent, RetryEvent } from '../../src/proxy/accelerated-agent.js';
import { ReadySource } from '../helpers/ready-source.js';
import { closedPort, echoHandler, saturatedListener, request, startProxy, startUpstream, type Proxied, type Upstream } from './proxy-harness.js';

let upstream: Upstream | undefined;
let proxied: Proxied | undefined;

afterEach(async () => {
  await proxied?.close();
  await upstream?.close();
  proxied = undefined;
  upstream = undefined;
});

/**
 * A source whose sockets are real connections to the upstream, made ahead of time
 * (as the pool would), that die with SYNPOOL_ERR_POOLED_RESET on their first write:
 * the server "forgot the entry". Nothing reaches the upstream.
 */
class ForgetfulSource implements ConnectionSource {
  readonly accelerated = true;
  readonly #ready: Socket[] = [];

  async warm(target: Endpoint, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const socket = net.connect(target.port, target.address);
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
      let first = true;
      socket.write = ((...args: unknown[]) => {
        if (first) {
          first = false;
          socket.destroy(new PooledConnectionResetError(`${target.address}:${target.port}`));
          return false;
        }
        return write(...args);
      }) as Socket['write'];
      this.#ready.push(socket);
    }
  }

  acquire(): Socket | undefined {
    return this.#ready.shift();
  }
}

describe('proxy: upstream failures', () => {
  it('upstream down → 502 well within the connect timeout', async () => {
    const port = await closedPort();
    proxied = await startProxy(`http://127.0.0.1:${port}`, { agent: { connectTimeoutMs: 1_000 } });
    const started = performance.now();
    const res = await request(proxied.port, { path: '/' });
    expect(res.status).toBe(502);
    expect(res.body.toString()).toContain('refused');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(proxied.records.at(-1)).toMatchObject({ status: 502, error: 'ECONNREFUSED', connection: 'none' });
  });

  it('connect timeout → 504 after connectTimeoutMs', async () => {
    const listener = await saturatedListener();
    try {
      proxied = await startProxy(`http://127.0.0.1:${listener.port}`, { agent: { connectTimeoutMs: 300 } });
      const started = performance.now();
      const res = await request(proxied.port, { path: '/' });
      const elapsed = performance.now() - started;
      expect(res.status).toBe(504);
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
      expect(proxied.records.at(-1)).toMatchObject({ status: 504, error: 'UND_ERR_CONNECT_TIMEOUT' });
    } finally {
      await listener.close();
    }
  });

  it('a slow upstream → 504 after headersTimeoutMs', async () => {
    upstream = await startUpstream(() => {
      /* never answers */
    });
    proxied = await startProxy(upstream.url, { server: { headersTimeoutMs: 300 } });
    const started = performance.now();
    const res = await request(proxied.port, { path: '/' });
    expect(res.status).toBe(504);
    expect(performance.now() - started).toBeGreaterThanOrEqual(250);
    expect(proxied.records.at(-1)).toMatchObject({ status: 504, error: 'UND_ERR_HEADERS_TIMEOUT' });
  });

  it('an upstream that stalls before its body → 504 after bodyTimeoutMs (headers not yet sent)', async () => {
    upstream = await startUpstream((_req, res) => {
      res.flushHeaders();
    });
    proxied = await startProxy(upstream.url, { server: { bodyTimeoutMs: 300 } });
    const res = await request(proxied.port, { path: '/' }).catch((e: Error) => e);
    // Headers were already relayed, so the proxy can only cut the response.
    expect(res instanceof Error || (res as { status: number }).status === 200).toBe(true);
    expect(proxied.records.at(-1)).toMatchObject({ error: 'UND_ERR_BODY_TIMEOUT' });
  });

  it('an upstream that resets the connection → 502 with a short body', async () => {
    upstream = await startUpstream((req) => {
      req.socket.resetAndDestroy();
    });
    proxied = await startProxy(upstream.url);
    const res = await request(proxied.port, { method: 'POST', path: '/', body: 'x' });
    expect(res.status).toBe(502);
    expect(res.body.length).toBeLessThan(100);
  });

  it('an idempotent request on a connection lost before any response byte is retried once', async () => {
    let n = 0;
    upstream = await startUpstream((req, res) => {
      n += 1;
      if (n === 1) req.socket.resetAndDestroy();
      else echoHandler(req, res);
    });
    proxied = await startProxy(upstream.url);
    const retries: RetryEvent[] = [];
    proxied.agent.events.on('retry', (e) => retries.push(e));
    const res = await request(proxied.port, { method: 'PUT', path: '/', body: 'abc' });
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body.toString()) as { bytes: number }).bytes).toBe(3);
    expect(retries.map((r) => r.reason)).toEqual(['connection-lost']);
    expect(proxied.records.at(-1)).toMatchObject({ retried: true, status: 200 });
  });
});

describe('proxy: pooled connections', () => {
  it('uses a pooled socket for a new connection and records "pool"', async () => {
    upstream = await startUpstream(echoHandler);
    const source = new ReadySource();
    await source.warm({ address: '127.0.0.1', port: upstream.port }, 1);
    proxied = await startProxy(upstream.url, { agent: { source } });
    const res = await request(proxied.port, { path: '/' });
    expect(res.status).toBe(200);
    expect(proxied.records.at(-1)).toMatchObject({ connection: 'pool' });
  });

  it.each(['GET', 'POST'])('a pooled socket reset on first use (%s) → plain retry succeeds, the fallback is counted', async (method) => {
    upstream = await startUpstream(echoHandler);
    const source = new ForgetfulSource();
    const target = { address: '127.0.0.1', port: upstream.port };
    await source.warm(target, 1);
    proxied = await startProxy(upstream.url, { agent: { source } });
    const fallbacks: FallbackEvent[] = [];
    proxied.agent.events.on('fallback', (e) => fallbacks.push(e));
    const body = method === 'POST' ? Buffer.alloc(200_000, 3) : undefined;
    const res = await request(proxied.port, { method, path: '/p', body });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body.toString()) as { method: string; bytes: number };
    expect(seen).toMatchObject({ method, bytes: body?.length ?? 0 });
    expect(fallbacks).toEqual([{ reason: 'pooled-reset', target }]);
    expect(proxied.records.at(-1)).toMatchObject({ status: 200, retried: true, connection: 'plain' });
  });

  it('an empty pool falls back to a plain connect and counts "pool-empty"', async () => {
    upstream = await startUpstream(echoHandler);
    const source = new ReadySource();
    proxied = await startProxy(upstream.url, { agent: { source } });
    const fallbacks: FallbackEvent[] = [];
    proxied.agent.events.on('fallback', (e) => fallbacks.push(e));
    const res = await request(proxied.port, { path: '/' });
    expect(res.status).toBe(200);
    expect(fallbacks.map((f) => f.reason)).toEqual(['pool-empty']);
    expect(proxied.records.at(-1)).toMatchObject({ connection: 'plain', retried: false });
  });
});
