// The round trip the proxy saves, measured by a real client across an 80 ms
// delay line: synpool (in this process, in the client namespace) in front of
// node:http upstreams in the server namespace that never let a connection be
// reused: one closes after every response, one drops idle connections after
// 1 s while the client pauses 2 s. Every request then needs a new upstream
// connection: one round trip from the pool, two with plain connects.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, sleep, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';

const ONE_WAY_MS = 40;
const RTT_MS = 2 * ONE_WAY_MS;
const POOL = { sizing: 'fixed', targetSize: 4, synRatePerSec: 50, synBurst: 10 };

let topo: Topology;
let leave: (() => void) | undefined;
let closing: UpstreamServer;
let idle: UpstreamServer;
const proxies: InProcessSynpool[] = [];
const clients: Pool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites();
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spnl' });
  closing = await startNodeUpstream(topo, { connectionClose: true });
  idle = await startNodeUpstream(topo, { keepAliveTimeoutMs: 1_000 });
  // The proxies, their pools and the test's clients all live in the client namespace.
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.destroy()));
  await Promise.allSettled(proxies.map((p) => p.stop()));
  leave?.();
  await closing?.stop();
  await idle?.stop();
  await topo?.destroy();
});

async function start(upstream: UpstreamServer, accel: boolean): Promise<{ proxy: InProcessSynpool; client: Pool }> {
  const proxy = await serveInProcess({ upstream: `http://${topo.serverAddr}:${upstream.port}`, accel, pool: POOL });
  proxies.push(proxy);
  // One keep-alive connection from the client to the proxy: only the upstream side is new per request.
  const client = new Pool(proxy.url, { connections: 1, keepAliveTimeout: 30_000 });
  clients.push(client);
  if (accel) {
    await waitUntil('pool filled', async () => metricValue(await proxy.metrics(), 'synpool_pool_ready') >= POOL.targetSize, 5_000 + 10 * RTT_MS, 50);
  }
  return { proxy, client };
}

async function timedGet(client: Pool, path = '/'): Promise<number> {
  const t0 = performance.now();
  const res = await client.request({ method: 'GET', path, headersTimeout: 10_000, bodyTimeout: 10_000 });
  await res.body.text();
  expect(res.statusCode).toBe(200);
  return performance.now() - t0;
}

function describeSamples(ms: number[]): string {
  return `${ms.map((x) => x.toFixed(1)).join(', ')} ms (RTT ${RTT_MS} ms, measured ${topo.measuredRttMs.toFixed(1)} ms)`;
}

describe(`a new upstream connection per request, ${RTT_MS} ms RTT`, () => {
  it('upstream closes after every response: one round trip per request through the pool, two with accel off', async () => {
    const fast = await start(closing, true);
    const slow = await start(closing, false);
    await timedGet(fast.client);
    await timedGet(slow.client);

    const accelerated: number[] = [];
    const plain: number[] = [];
    const N = 12;
    for (let i = 0; i < N; i++) {
      accelerated.push(await timedGet(fast.client));
      plain.push(await timedGet(slow.client));
      // Pool refill: one SYN-ACK is one round trip away.
      await sleep(RTT_MS);
    }
    console.log(`accelerated: ${describeSamples(accelerated)}\nplain: ${describeSamples(plain)}`);
    const under = accelerated.filter((ms) => ms < 1.5 * RTT_MS).length;
    expect(under, `accelerated: ${describeSamples(accelerated)}`).toBeGreaterThanOrEqual(Math.ceil(0.8 * N));
    for (const ms of plain) expect(ms, `plain: ${describeSamples(plain)}`).toBeGreaterThanOrEqual(1.8 * RTT_MS);

    const poolLines = fast.proxy.log.requests().filter((l) => l.connection === 'pool');
    expect(poolLines.length, fast.proxy.log.text).toBeGreaterThanOrEqual(under);
    expect(slow.proxy.log.requests().every((l) => l.connection === 'plain')).toBe(true);
    const metrics = await fast.proxy.metrics();
    expect(metricValue(metrics, 'synpool_request_duration_seconds_count', { connection: 'pool', status_class: '2xx' })).toBe(poolLines.length);
    expect(metricValue(metrics, 'synpool_acceleration_enabled')).toBe(1);
    expect(metricValue(await slow.proxy.metrics(), 'synpool_acceleration_enabled')).toBe(0);
  }, 60_000);

  it('upstream idle timeout (1 s) shorter than the gap between requests (2 s): still one round trip', async () => {
    const fast = await start(idle, true);
    const slow = await start(idle, false);
    await timedGet(fast.client);
    await timedGet(slow.client);

    const accelerated: number[] = [];
    const plain: number[] = [];
    const N = 5;
    for (let i = 0; i < N; i++) {
      await sleep(2_000);
      accelerated.push(await timedGet(fast.client));
      plain.push(await timedGet(slow.client));
    }
    console.log(`accelerated: ${describeSamples(accelerated)}\nplain: ${describeSamples(plain)}`);
    const under = accelerated.filter((ms) => ms < 1.5 * RTT_MS).length;
    expect(under, `accelerated: ${describeSamples(accelerated)}`).toBeGreaterThanOrEqual(N - 1);
    for (const ms of plain) expect(ms, `plain: ${describeSamples(plain)}`).toBeGreaterThanOrEqual(1.8 * RTT_MS);
    // The first request may have found the pool still filling; after that every request took an entry.
    const connections = fast.proxy.log.requests().map((l) => l.connection);
    expect(connections.slice(1).filter((c) => c === 'pool').length, connections.join(' ')).toBeGreaterThanOrEqual(N - 1);
    expect(connections).not.toContain('reused');
  }, 60_000);

  it('a streamed POST (two body chunks) through the pool: still one round trip (TCP_NODELAY on the pooled socket)', async () => {
    const fast = await start(closing, true);
    const part = Buffer.alloc(600, 0x61);
    const upload = async (): Promise<number> => {
      // Two chunks 5 ms apart: the proxy writes them upstream separately; without TCP_NODELAY
      // Nagle holds the second until the first is acknowledged, a round trip later.
      async function* body(): AsyncGenerator<Buffer> {
        yield part;
        await sleep(5);
        yield part;
      }
      const t0 = performance.now();
      const res = await fast.client.request({ method: 'POST', path: '/upload', body: Readable.from(body()), headersTimeout: 10_000, bodyTimeout: 10_000 });
      const text = await res.body.text();
      expect(res.statusCode, text).toBe(200);
      expect(JSON.parse(text)).toEqual({ received: 2 * part.length });
      return performance.now() - t0;
    };
    await upload(); // warm-up: the client's connection to the proxy, the first handoff
    const times: number[] = [];
    const N = 6;
    for (let i = 0; i < N; i++) {
      await waitUntil('a pooled entry', async () => metricValue(await fast.proxy.metrics(), 'synpool_pool_ready') >= 1, 5_000, 20);
      times.push(await upload());
    }
    console.log(`streamed POST through the pool: ${describeSamples(times)}`);
    expect(fast.proxy.log.requests().map((l) => l.connection)).toEqual(Array(N + 1).fill('pool'));
    // One round trip plus the proxy, with room for the shared machine's noise (seen: up to 1.5 RTT);
    // a second segment held for the ACK of the first takes 2.1–2.8 RTT.
    const under = times.filter((ms) => ms < 1.75 * RTT_MS).length;
    expect(under, `streamed POST: ${describeSamples(times)}`).toBeGreaterThanOrEqual(N - 1);
  }, 60_000);
});
