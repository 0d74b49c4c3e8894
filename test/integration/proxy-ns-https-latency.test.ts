// The point of HTTPS over pooled connections, measured: across a 100 ms RTT delay
// line, against nginx with TLS 1.3 closing every connection, a cold request through
// synpool costs TLS + request (2 RTT) and through --no-accel TCP + TLS + request
// (3 RTT). Both proxies run in this process (client namespace), requests interleaved.
import { join } from 'node:path';
import { fetch } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNginxUpstream, startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';
import { createPrivateCa, issueCert } from '../../bench/upstream/private-ca.js';

const ONE_WAY_MS = 50;
const RTT_MS = 2 * ONE_WAY_MS;
const NAME = 'upstream.test';
const ROUNDS = 5;

let topo: Topology;
let leave: (() => void) | undefined;
let nginx: UpstreamServer | undefined;
let nodeOrigin: UpstreamServer | undefined;
const proxies: InProcessSynpool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['openssl', 'nginx']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'sphl' });
  const ca = createPrivateCa(join(topo.dir, 'ca'));
  const cert = issueCert(ca, { name: 'origin', dns: [NAME] });
  nginx = await startNginxUpstream(topo, { port: 20_000 + Math.floor(Math.random() * 20_000), keepaliveTimeoutS: 0, tls: cert });
  leave = enterNamespace(topo.netnsPath('client'));
  const common = { upstream: `https://${topo.serverAddr}:${nginx.port}`, tls: { ca: ca.certFile, servername: NAME }, connectTimeoutMs: 5_000 };
  proxies.push(await serveInProcess({ ...common, pool: { sizing: 'fixed', targetSize: 2 } }));
  proxies.push(await serveInProcess({ ...common, accel: false }));
  // A node:https origin that reads a request body (nginx answers a static POST before its body).
  nodeOrigin = await startNodeUpstream(topo, { connectionClose: true, tls: cert });
  proxies.push(await serveInProcess({ ...common, upstream: `https://${topo.serverAddr}:${nodeOrigin.port}`, pool: { sizing: 'fixed', targetSize: 2 } }));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(proxies.map((p) => p.stop()));
  leave?.();
  await nginx?.stop();
  await nodeOrigin?.stop();
  await topo?.destroy();
});

async function timedGet(p: InProcessSynpool): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${p.url}/`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  const ms = performance.now() - t0;
  expect(res.status, body).toBe(200);
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

it('a cold HTTPS request: about 2 RTT through synpool, about 3 RTT with --no-accel', async () => {
  const [accel, plain] = proxies as [InProcessSynpool, InProcessSynpool];
  const ready = async (): Promise<boolean> => metricValue(await accel.metrics(), 'synpool_pool_ready') >= 1;
  const times = { accel: [] as number[], plain: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    await waitUntil('a pooled entry', ready, 10 * RTT_MS, 10);
    times.accel.push(await timedGet(accel));
    times.plain.push(await timedGet(plain));
  }
  // Every request took a new upstream connection (nginx closes each one): pooled, resp. plain.
  expect(accel.log.requests().map((l) => l.connection)).toEqual(Array(ROUNDS).fill('pool'));
  expect(plain.log.requests().map((l) => l.connection)).toEqual(Array(ROUNDS).fill('plain'));
  const result = {
    rttMs: RTT_MS,
    accelMedianMs: Math.round(median(times.accel) * 10) / 10,
    plainMedianMs: Math.round(median(times.plain) * 10) / 10,
    accel: times.accel.map(Math.round),
    plain: times.plain.map(Math.round),
  };
  console.log(`https cold request at ${RTT_MS} ms RTT: ${JSON.stringify(result)}`);
  expect(median(times.accel), JSON.stringify(result)).toBeGreaterThan(2 * RTT_MS);
  expect(median(times.accel), JSON.stringify(result)).toBeLessThan(2.5 * RTT_MS);
  expect(median(times.plain), JSON.stringify(result)).toBeGreaterThan(2.6 * RTT_MS);
  const m = await accel.metrics();
  // The TLS handshake is a round trip of its own, timed apart from the (µs) handoff.
  expect(metricValue(m, 'synpool_tls_handshake_duration_seconds_count', { connection: 'pool', resumed: 'true' })).toBe(ROUNDS - 1);
  const tlsSum = metricValue(m, 'synpool_tls_handshake_duration_seconds_sum');
  expect(tlsSum / ROUNDS).toBeGreaterThan(RTT_MS / 1000);
  expect(metricValue(m, 'synpool_handoff_duration_seconds_sum') / ROUNDS).toBeLessThan(0.01);
}, 60_000);

/** A POST whose body reaches the proxy in two chunks (a streamed upload): the proxy writes them separately. */
async function timedUpload(p: InProcessSynpool, chunk: number): Promise<number> {
  const part = new Uint8Array(chunk).fill(0x61);
  const body = new ReadableStream<Uint8Array>({
    async start(c) {
      c.enqueue(part);
      await new Promise((r) => setTimeout(r, 5));
      c.enqueue(part);
      c.close();
    },
  });
  const t0 = performance.now();
  const res = await fetch(`${p.url}/upload`, { method: 'POST', body, duplex: 'half', signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  const ms = performance.now() - t0;
  expect(res.status, text).toBe(200);
  expect(JSON.parse(text)).toEqual({ received: 2 * chunk });
  return ms;
}

it('a streamed POST over a pooled HTTPS connection: still about 2 RTT (no Nagle wait for the ACK of the first segment)', async () => {
  const p = proxies[2]!;
  const ready = async (): Promise<boolean> => metricValue(await p.metrics(), 'synpool_pool_ready') >= 1;
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await waitUntil('a pooled entry', ready, 10 * RTT_MS, 10);
    times.push(await timedUpload(p, 600));
  }
  expect(p.log.requests().map((l) => l.connection)).toEqual(Array(ROUNDS).fill('pool'));
  const result = { rttMs: RTT_MS, medianMs: Math.round(median(times) * 10) / 10, all: times.map(Math.round) };
  console.log(`streamed POST over a pooled https connection at ${RTT_MS} ms RTT: ${JSON.stringify(result)}`);
  // TLS (1 RTT) + request and response (1 RTT). A second request segment held back until the
  // first is acknowledged (Nagle on a socket without TCP_NODELAY) adds a third round trip.
  expect(median(times), JSON.stringify(result)).toBeLessThan(2.5 * RTT_MS);
}, 60_000);
