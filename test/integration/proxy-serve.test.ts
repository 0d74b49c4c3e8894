import { Writable } from 'node:stream';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { serve, type RunningSynpool } from '../../src/cli.js';
import { validateConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ConnectionSource } from '../../src/proxy/connection-source.js';
import { echoHandler, request, startUpstream, type Upstream } from './proxy-harness.js';

let upstream: Upstream | undefined;
let running: RunningSynpool | undefined;

afterEach(async () => {
  await running?.shutdown('test');
  await upstream?.close();
  running = undefined;
  upstream = undefined;
});

function memoryLog(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await request(port, { path });
  return { status: res.status, body: res.body.toString() };
}

async function start(extra: Record<string, unknown> = {}, source?: ConnectionSource) {
  upstream = await startUpstream(echoHandler);
  // accel: false unless a test brings its own source: these tests are about the proxy, not the pool.
  const config = validateConfig({ upstream: upstream.url, listen: '127.0.0.1:0', metricsListen: '127.0.0.1:0', ...(source === undefined ? { accel: false } : {}), ...extra });
  const log = memoryLog();
  running = await serve(config, {
    logger: createLogger('info', log.stream),
    registry: new Registry(),
    handleSignals: false,
    ...(source === undefined ? {} : { createSource: () => source }),
  });
  return { log, running, metricsPort: running.metricsAddress!.port, port: running.address.port };
}

describe('serve: logs, metrics, health', () => {
  it('logs one JSON line per request with upstream, method, path, status, duration and connection source', async () => {
    const { log, port } = await start();
    await request(port, { method: 'POST', path: '/x?y=1', body: 'abc' });
    const line = log.lines().find((l) => l.msg === 'request');
    expect(line).toMatchObject({ upstream: 'default', server: upstream!.url, method: 'POST', path: '/x?y=1', status: 200, connection: 'plain', bytesIn: 3 });
    expect(typeof line?.durationMs).toBe('number');
  });

  it('serves /metrics with the duration histogram by connection source and fallbacks by reason', async () => {
    const source: ConnectionSource = { accelerated: true, acquire: () => undefined };
    const { port, metricsPort } = await start({}, source);
    await get(port, '/');
    const metrics = await get(metricsPort, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/synpool_request_duration_seconds_count\{upstream="default",server="http:\/\/127\.0\.0\.1:\d+",connection="plain",status_class="2xx",tls="false"\} 1/);
    expect(metrics.body).toMatch(/synpool_fallbacks_total\{reason="pool-empty"\} 1/);
  });

  it('/healthz is 200; /readyz is 200 while serving and 503 once draining', async () => {
    const { metricsPort, running: r } = await start({ shutdownTimeoutMs: 2_000 });
    expect((await get(metricsPort, '/healthz')).status).toBe(200);
    expect((await get(metricsPort, '/readyz')).status).toBe(200);
    expect((await get(metricsPort, '/nope')).status).toBe(404);
    expect(r.proxy.draining).toBe(false);
  });
});

describe('serve: shutdown', () => {
  it('drains an in-flight request, stops accepting, closes the source', async () => {
    let closedSource = 0;
    const source: ConnectionSource = { accelerated: true, acquire: () => undefined, close: () => void (closedSource += 1) };
    upstream = await startUpstream((req, res) => {
      setTimeout(() => echoHandler(req, res), 300);
    });
    const config = validateConfig({ upstream: upstream.url, listen: '127.0.0.1:0', metricsListen: null, shutdownTimeoutMs: 5_000 });
    running = await serve(config, {
      logger: createLogger('silent'),
      registry: new Registry(),
      handleSignals: false,
      createSource: () => source,
    });
    const port = running.address.port;
    const inFlight = request(port, { path: '/slow' });
    await new Promise((r) => setTimeout(r, 100));
    const stopping = running.shutdown('test');
    const res = await inFlight;
    await stopping;
    expect(res.status).toBe(200);
    expect(closedSource).toBe(1);
    await expect(request(port, { path: '/' })).rejects.toThrow(/ECONNREFUSED/);
  });

  it('cuts requests that outlive shutdownTimeoutMs', async () => {
    upstream = await startUpstream(() => {
      /* never answers */
    });
    const config = validateConfig({ upstream: upstream.url, listen: '127.0.0.1:0', metricsListen: null, shutdownTimeoutMs: 200 });
    running = await serve(config, { logger: createLogger('silent'), registry: new Registry(), handleSignals: false });
    const inFlight = request(running.address.port, { path: '/' }).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await running.shutdown('test');
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(await inFlight).toBeInstanceOf(Error);
  });
});

void http;
