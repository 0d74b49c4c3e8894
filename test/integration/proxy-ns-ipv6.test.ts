// synpool against an IPv6 upstream, end to end, across an 80 ms delay line
// between namespaces that have no IPv4 between them: the CLI with
// `--upstream http://[fd00:…::2]:PORT` (cold requests in one round trip, pool
// hits in the metrics), https over IPv6 (the certificate checked against the
// IPv6 literal), and `synpool probe` against an IPv6 URL.
import { join } from 'node:path';
import { Pool, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { createPrivateCa, issueCert } from '../../bench/upstream/private-ca.js';
import { PROBE_EXIT } from '../../src/commands/probe.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { probeInClient } from '../helpers/probe-in-namespace.js';
import { metricValue, serveInProcess, sleep, spawnCli, waitUntil, type CliSynpool, type InProcessSynpool } from '../helpers/proxy-process.js';

const ONE_WAY_MS = 40;
const RTT_MS = 2 * ONE_WAY_MS;

let topo: Topology;
let closing: UpstreamServer;
const upstreams: UpstreamServer[] = [];
const clis: CliSynpool[] = [];
const proxies: InProcessSynpool[] = [];
const clients: Pool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['openssl']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spn6', ip: 'v6' });
  closing = await startNodeUpstream(topo, { connectionClose: true });
  upstreams.push(closing);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.destroy()));
  await Promise.allSettled(clis.map((c) => c.stop()));
  await Promise.allSettled(proxies.map((p) => p.stop()));
  await Promise.allSettled(upstreams.map((u) => u.stop()));
  await topo?.destroy();
});

/** The client (this process) talks to the CLI over the client namespace's loopback. */
async function inClient<T>(fn: () => Promise<T>): Promise<T> {
  const leave = enterNamespace(topo.netnsPath('client'));
  try {
    return await fn();
  } finally {
    leave();
  }
}

async function timedGet(client: Pool): Promise<number> {
  const t0 = performance.now();
  const res = await client.request({ method: 'GET', path: '/', headersTimeout: 10_000, bodyTimeout: 10_000 });
  await res.body.text();
  expect(res.statusCode).toBe(200);
  return performance.now() - t0;
}

const fmt = (ms: number[]) => `${ms.map((x) => x.toFixed(1)).join(', ')} ms (RTT ${RTT_MS} ms, measured ${topo.measuredRttMs.toFixed(1)} ms)`;

describe(`IPv6 upstream, IPv6-only namespaces, ${RTT_MS} ms RTT`, () => {
  it('synpool --upstream http://[v6]:PORT: cold requests in about one round trip, two with --no-accel; pool hits in the metrics', async () => {
    const upstream = `http://[${topo.serverAddr6}]:${closing.port}`;
    const common = ['--upstream', upstream, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'];
    const fast = await spawnCli(topo, 'client', [...common, '--pool-size', '4']);
    const slow = await spawnCli(topo, 'client', [...common, '--no-accel']);
    clis.push(fast, slow);
    await inClient(async () => {
      const fastClient = new Pool(fast.url, { connections: 1, keepAliveTimeout: 30_000 });
      const slowClient = new Pool(slow.url, { connections: 1, keepAliveTimeout: 30_000 });
      clients.push(fastClient, slowClient);
      await waitUntil('pool filled', async () => metricValue(await fast.metrics(), 'synpool_pool_ready') >= 4, 5_000 + 10 * RTT_MS, 50);
      await timedGet(fastClient);
      await timedGet(slowClient);
      const accelerated: number[] = [];
      const plain: number[] = [];
      const N = 10;
      for (let i = 0; i < N; i++) {
        accelerated.push(await timedGet(fastClient));
        plain.push(await timedGet(slowClient));
        await sleep(RTT_MS); // refill: one SYN-ACK away
      }
      console.log(`IPv6 accelerated: ${fmt(accelerated)}\nIPv6 plain: ${fmt(plain)}`);
      const under = accelerated.filter((ms) => ms < 1.5 * RTT_MS).length;
      expect(under, `accelerated: ${fmt(accelerated)}`).toBeGreaterThanOrEqual(Math.ceil(0.8 * N));
      for (const ms of plain) expect(ms, `plain: ${fmt(plain)}`).toBeGreaterThanOrEqual(1.8 * RTT_MS);

      const poolLines = fast.log.requests().filter((l) => l.connection === 'pool');
      expect(poolLines.length, fast.log.text).toBeGreaterThanOrEqual(under);
      expect(String(poolLines[0]?.server ?? '')).toContain(`[${topo.serverAddr6}]`);
      const metrics = await fast.metrics();
      expect(metricValue(metrics, 'synpool_request_duration_seconds_count', { connection: 'pool', status_class: '2xx' })).toBe(poolLines.length);
      expect(metricValue(metrics, 'synpool_acceleration_enabled')).toBe(1);
      expect(slow.log.requests().every((l) => l.connection === 'plain')).toBe(true);
    });
  }, 90_000);

  it('https://[v6]:PORT: TLS over a pooled IPv6 socket, the certificate checked against the IPv6 address', async () => {
    const ca = createPrivateCa(join(topo.dir, 'ca'));
    const cert = issueCert(ca, { name: 'v6', ips: [topo.serverAddr6!] });
    const u = await startNodeUpstream(topo, { connectionClose: true, tls: cert });
    upstreams.push(u);
    await inClient(async () => {
      const p = await serveInProcess({ upstream: `https://[${topo.serverAddr6}]:${u.port}`, tls: { ca: ca.certFile }, pool: { sizing: 'fixed', targetSize: 2 }, connectTimeoutMs: 3_000 });
      proxies.push(p);
      await waitUntil('2 pooled entries', async () => metricValue(await p.metrics(), 'synpool_pool_ready') >= 2, 5_000, 20);
      const res = await fetch(`${p.url}/echo`, { signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      expect(res.status, body).toBe(200);
      expect(JSON.parse(body).headers.host).toBe(`[${topo.serverAddr6}]:${u.port}`);
      const line = p.log.requests()[0]!;
      expect(line).toMatchObject({ connection: 'pool', tls: true, status: 200 });
      expect(metricValue(await p.metrics(), 'synpool_tls_handshake_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    });
  }, 60_000);

  it('synpool probe http://[v6]:PORT/ reports the saved round trip', async () => {
    const { code, out, err } = await probeInClient(topo, [`http://[${topo.serverAddr6}]:${closing.port}/`, '--json', '--count', '3', '--wait', '50']);
    expect(code, err).toBe(PROBE_EXIT.ok);
    const r = JSON.parse(out) as { target: string; accelerated: { synAckRttMs: number; totalMs: number }; plain: { totalMs: number } };
    expect(r.target).toBe(`[${topo.serverAddr6}]:${closing.port}`);
    expect(r.accelerated.synAckRttMs).toBeGreaterThan(0.9 * RTT_MS);
    expect(r.plain.totalMs - r.accelerated.totalMs).toBeGreaterThan(0.5 * RTT_MS);
    // A link-local URL is refused with the reason, before anything is sent.
    const ll = await probeInClient(topo, ['http://[fe80::1]:80/']);
    expect(ll.code).toBe(PROBE_EXIT.usage);
    expect(ll.err).toMatch(/link-local/);
  }, 60_000);
});
