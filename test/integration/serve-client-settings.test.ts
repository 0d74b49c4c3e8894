// serve() wires clientHeadersTimeoutMs and upgradeIdleTimeoutMs from the config to the
// proxy, logs an 'upgrade' line and exports synpool_upgrades_total.
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type RunningSynpool } from '../../src/cli.js';
import { validateConfig } from '../../src/config/schema.js';
import { createLogger } from '../../src/observability/logger.js';
import { startWebSocketEchoServer, type WebSocketEchoServer } from '../helpers/websocket-echo-server.js';
import { rawExchange } from './proxy-harness.js';

let upstream: WebSocketEchoServer | undefined;
let running: RunningSynpool | undefined;

afterEach(async () => {
  await running?.shutdown('test');
  await upstream?.close();
  running = undefined;
  upstream = undefined;
});

async function start(extra: Record<string, unknown>): Promise<{ port: number; metricsPort: number; logLines: () => Record<string, unknown>[] }> {
  upstream = await startWebSocketEchoServer();
  const config = validateConfig({ upstream: upstream.url, listen: '127.0.0.1:0', metricsListen: '127.0.0.1:0', accel: false, ...extra });
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  });
  running = await serve(config, {
    logger: createLogger('info', stream),
    registry: new Registry(),
    handleSignals: false,
  });
  return {
    port: running.address.port,
    metricsPort: running.metricsAddress!.port,
    logLines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

describe('serve: client-facing HTTP settings', () => {
  it('clientHeadersTimeoutMs from the config bounds an unfinished request head', async () => {
    const { port } = await start({ clientHeadersTimeoutMs: 300 });
    const started = performance.now();
    const reply = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 5_000);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('upgradeIdleTimeoutMs closes an idle tunnel; the upgrade is logged and counted', async () => {
    const { port, metricsPort, logLines } = await start({ upgradeIdleTimeoutMs: 300 });
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await once(socket, 'connect');
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    let data = '';
    socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
    const started = performance.now();
    await once(socket, 'close');
    expect(data).toMatch(/^HTTP\/1\.1 101 /);
    expect(performance.now() - started).toBeLessThan(3_000);
    const deadline = Date.now() + 3_000;
    while (!logLines().some((l) => l.msg === 'upgrade') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(logLines().find((l) => l.msg === 'upgrade')).toMatchObject({ protocol: 'websocket', outcome: 'tunneled', status: 101, closedBy: 'idle-timeout', path: '/ws' });
    expect(await metrics(metricsPort)).toContain('synpool_upgrades_total{outcome="tunneled"} 1');
  });
});
