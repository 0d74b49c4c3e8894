// A pooled entry the server retransmitted its SYN-ACK for twice or more starts
// with a congestion window of 1 on a Linux server (tcp_init_transfer:
// total_retrans > 1, and our first segment echoes TSecr 0, so the retransmits
// cannot be undone as spurious). The pool ages entries out before that
// (maxSynAckRetransmits, default 1). Measured here across a 100 ms delay line
// with a response of ~60 KB (about 42 segments: 3 flights from a window of 10,
// 4-5 from a window of 1), after the pools sat idle for > 5 s, interleaved:
//   - the default pool: its entries are at most ~3 s old, full window;
//   - maxSynAckRetransmits 5 (the behaviour before the setting): entries > 5 s
//     old, window 1, about one round trip more;
//   - plain connects: one handshake round trip more, full window.
// On the old code the default behaved like the second proxy, so the first
// assertion fails there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, sleep, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';

const ONE_WAY_MS = 50;
const RTT_MS = 2 * ONE_WAY_MS;
const BYTES = 60 * 1024;
/** Longer than the server's second SYN-ACK retransmit (3 s after the first) plus margin. */
const IDLE_MS = 5_500;
const N = 5;

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: UpstreamServer;
const proxies: InProcessSynpool[] = [];
const clients: Pool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites();
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spfw' });
  // Closes after every response: each request needs a new upstream connection.
  upstream = await startNodeUpstream(topo, { connectionClose: true });
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.destroy()));
  await Promise.allSettled(proxies.map((p) => p.stop()));
  leave?.();
  await upstream?.stop();
  await topo?.destroy();
});

async function start(accel: boolean, pool: Record<string, unknown> = {}): Promise<{ proxy: InProcessSynpool; client: Pool }> {
  const proxy = await serveInProcess({ upstream: `http://${topo.serverAddr}:${upstream.port}`, accel, pool });
  proxies.push(proxy);
  const client = new Pool(proxy.url, { connections: 1, keepAliveTimeout: 60_000 });
  clients.push(client);
  if (accel) await waitUntil('pool filled', async () => metricValue(await proxy.metrics(), 'synpool_pool_ready') >= 2, 10_000, 50);
  return { proxy, client };
}

async function timedGet(client: Pool): Promise<number> {
  const t0 = performance.now();
  const res = await client.request({ method: 'GET', path: `/bytes/${BYTES}`, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = Buffer.from(await res.body.arrayBuffer());
  expect(res.statusCode).toBe(200);
  expect(body.length).toBe(BYTES);
  return performance.now() - t0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const show = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(', ');

describe(`a 60 KB response after the pool sat idle ${IDLE_MS / 1000} s, ${RTT_MS} ms RTT`, () => {
  it('the default pool hands out a full-window entry: about a round trip faster than old entries and than a plain connect', async () => {
    const young = await start(true);
    const old = await start(true, { maxSynAckRetransmits: 5 });
    const plain = await start(false);
    // Warm-up: the client → proxy connections, the first handoff.
    for (const p of [young, old, plain]) await timedGet(p.client);

    const t = { young: [] as number[], old: [] as number[], plain: [] as number[] };
    for (let i = 0; i < N; i++) {
      await sleep(IDLE_MS);
      // Order rotated so that no contender always goes first after the idle gap.
      const order = (['young', 'old', 'plain'] as const).map((_, k, a) => a[(k + i) % a.length]!);
      for (const name of order) t[name].push(await timedGet({ young, old, plain }[name].client));
    }
    const summary = `young ${show(t.young)} | old (maxSynAckRetransmits 5) ${show(t.old)} | plain ${show(t.plain)} ms (measured RTT ${topo.measuredRttMs.toFixed(1)} ms)`;
    console.log(summary);

    // Every pooled request went through the pool; the default one never fell back to an aged entry.
    for (const p of [young, old]) {
      expect(p.proxy.log.requests().filter((l) => l.connection === 'pool').length, summary).toBe(N + 1);
    }
    const metrics = await young.proxy.metrics();
    expect(metricValue(metrics, 'synpool_pool_hits_total'), summary).toBe(N + 1);
    expect(metricValue(metrics, 'synpool_pool_hits_aged_total'), summary).toBe(0);

    // Coarse bounds: the gaps are about one round trip (100 ms) each. Seen before the
    // change, 60 KB at 100 ms: 435-441 ms full window, 578-631 window 1, 536-643 plain.
    expect(median(t.young), summary).toBeLessThan(median(t.old) - 0.5 * RTT_MS);
    expect(median(t.young), summary).toBeLessThan(median(t.plain) - 0.5 * RTT_MS);
    // A full-window pooled GET: request 1 RTT + 3 flights, plus the proxy; with room for the shared VM.
    expect(median(t.young), summary).toBeLessThan(5 * RTT_MS);
  }, 120_000);
});
