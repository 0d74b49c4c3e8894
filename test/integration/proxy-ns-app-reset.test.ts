// An upstream application that resets connections after reading the request
// (the kernel acknowledged it: not a forgotten half-open entry) must not steer
// the pool, however often a client makes it do so: the learned TTL, the
// entries held and the SYNs sent stay what the request rate alone explains.
// synpool runs in this process (client namespace), the upstream across a
// 40 ms delay line.
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import type { PoolSnapshot } from '../../src/pool/pool-events.js';
import type { PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, sleep, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;
const RESETS = 15;

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: UpstreamServer | undefined;
let proxy: InProcessSynpool | undefined;
let client: Pool | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites();
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spapr' });
  leave = enterNamespace(topo.netnsPath('client'));
  upstream = await startNodeUpstream(topo);
}, 60_000);

afterAll(async () => {
  await client?.destroy();
  await proxy?.stop();
  leave?.();
  await upstream?.stop();
  await topo?.destroy();
});

describe('an upstream application that resets requests it received', () => {
  it(`${RESETS} resets through pooled connections: TTL, entries and SYNs unchanged`, async () => {
    proxy = await serveInProcess({ upstream: `http://${topo.serverAddr}:${upstream!.port}` });
    const p = proxy;
    const snap = (): PoolSnapshot => (p.running.agent.source as PoolConnectionSource).pool.snapshot()[0]!;
    await waitUntil('pool ready', () => snap().ready >= 2, 5_000 + 10 * RTT_MS, 20);
    client = new Pool(p.url, { connections: 1 });
    const get = async (path: string): Promise<number> => {
      const res = await client!.request({ method: 'GET', path, headersTimeout: 10_000, bodyTimeout: 10_000 });
      await res.body.text();
      return res.statusCode;
    };
    const before = snap();

    const statuses: number[] = [];
    for (let i = 0; i < RESETS; i++) {
      // Paced so the pool refills between requests: every attempt can take an entry.
      await waitUntil('an entry ready', () => snap().ready >= 1, 3_000 + 10 * RTT_MS, 10);
      statuses.push(await get('/reset'));
      await sleep(100);
    }
    const after = snap();
    const metrics = await p.metrics();
    const report = JSON.stringify({ statuses: statuses.join(','), before, after });

    // The upstream's resets reach the client as 502s (a GET is replayed once on a plain connection, reset too).
    expect(statuses, report).toEqual(Array.from({ length: RESETS }, () => 502));
    // They went through pooled connections, and were classified as the application's resets.
    expect(after.hits - before.hits, report).toBeGreaterThanOrEqual(RESETS);
    expect(metricValue(metrics, 'synpool_upstream_retries_total', { reason: 'pooled-error' }), report).toBe(RESETS);
    expect(metricValue(metrics, 'synpool_upstream_retries_total', { reason: 'pooled-reset' }), report).toBe(0);
    // Nothing was learned from them.
    expect(after.effectiveTtlMs, report).toBe(50_000);
    expect(metricValue(metrics, 'synpool_pool_effective_ttl_seconds'), report).toBe(50);
    expect(after.deadOnUse, report).toBe(0);
    expect(after.learned.earlyDeaths, report).toBe(0);
    expect(after.evicted['sibling-dead'], report).toBe(0);
    expect(metricValue(metrics, 'synpool_pool_entries_evicted_total', { reason: 'sibling-dead' }), report).toBe(0);
    // One refill per entry taken, plus at most the growth of the demand target.
    expect(after.synsSent - before.synsSent, report).toBeLessThanOrEqual(after.hits - before.hits + 2);

    // And the pool still serves normal requests from its entries.
    expect(await get('/')).toBe(200);
  }, 60_000);
});
