// A WebSocket session through synpool over a real handed-off connection: the pool's
// TCP_REPAIR'd socket carries the upgrade request, then the tunnel. synpool runs in
// this process, in the client namespace; the WebSocket upstream in the server namespace.
import { once } from 'node:events';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';
import { startWebSocketEchoServer, type WebSocketEchoServer } from '../helpers/websocket-echo-server.js';

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: WebSocketEchoServer | undefined;
let synpool: InProcessSynpool | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites();
  topo = await createTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'spup' });
  const leaveForServer = enterNamespace(topo.netnsPath('server'));
  try {
    upstream = await startWebSocketEchoServer(topo.serverAddr);
  } finally {
    leaveForServer();
  }
  leave = enterNamespace(topo.netnsPath('client'));
  synpool = await serveInProcess({ upstream: upstream.url, pool: { sizing: 'fixed', targetSize: 2, synRatePerSec: 50, synBurst: 10 } });
  await waitUntil('pool filled', async () => metricValue(await synpool!.metrics(), 'synpool_pool_ready') >= 1, 5_000, 50);
}, 60_000);

afterAll(async () => {
  await synpool?.stop();
  leave?.();
  await upstream?.close();
  await topo?.destroy();
});

describe('upgrade over a pooled (handed-off) connection', () => {
  it('a WebSocket exchange rides a pool connection: messages both ways, then a close', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${synpool!.port}/live`);
    const messages: string[] = [];
    ws.addEventListener('message', (e) => messages.push(String(e.data)));
    await once(ws as unknown as EventTarget, 'open');
    ws.send('over-repair');
    await waitUntil('echo', () => messages.includes('echo:over-repair'), 5_000);
    const closed = new Promise<number>((resolve) => ws.addEventListener('close', (e) => resolve(e.code), { once: true }));
    ws.close(1000);
    expect(await closed).toBe(1000);
    await waitUntil('upgrade logged', () => synpool!.log.lines().some((l) => l.msg === 'upgrade'), 5_000);
    const line = synpool!.log.lines().find((l) => l.msg === 'upgrade');
    expect(line).toMatchObject({ outcome: 'tunneled', status: 101, connection: 'pool', protocol: 'websocket' });
    expect(messages).toEqual(['hello', 'echo:over-repair']);
    expect(metricValue(await synpool!.metrics(), 'synpool_upgrades_total', { outcome: 'tunneled' })).toBe(1);
  });
});
