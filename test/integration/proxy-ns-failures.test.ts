// Failures across a 40 ms delay line, synpool accelerated in this process (in
// the client namespace): an upstream that is down, one that does not exist, an
// upstream restarted while the pool is full and requests keep coming, and bad
// configuration through main().
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { main } from '../../src/cli.js';
import type { PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, serveInProcess, sleep, waitUntil, type InProcessSynpool } from '../helpers/proxy-process.js';

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;

let topo: Topology;
let leave: (() => void) | undefined;
const upstreams: UpstreamServer[] = [];
const proxies: InProcessSynpool[] = [];
const clients: Pool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites();
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spnf' });
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.destroy()));
  await Promise.allSettled(proxies.map((p) => p.stop()));
  leave?.();
  await Promise.allSettled(upstreams.map((u) => u.stop()));
  await topo?.destroy();
});

async function upstream(opts: Parameters<typeof startNodeUpstream>[1] = {}): Promise<UpstreamServer> {
  const u = await startNodeUpstream(topo, opts);
  upstreams.push(u);
  return u;
}

async function proxy(config: Record<string, unknown>): Promise<InProcessSynpool> {
  const p = await serveInProcess(config);
  proxies.push(p);
  return p;
}

async function timed(url: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - t0 };
}

describe('upstream unavailable', () => {
  it('upstream down (nothing listens) → 502 well within the connect timeout, and the proxy keeps serving', async () => {
    const gone = await upstream();
    const port = gone.port;
    await gone.stop();
    const p = await proxy({ upstream: `http://${topo.serverAddr}:${port}`, connectTimeoutMs: 3_000 });
    for (let i = 0; i < 3; i++) {
      const res = await timed(`${p.url}/`);
      expect(res.status).toBe(502);
      expect(res.body).toBe('upstream refused the connection\n');
      // A refusal is one round trip away, the connect timeout far beyond.
      expect(res.ms).toBeLessThan(3_000);
    }
    const lines = p.log.requests();
    expect(lines.length).toBe(3);
    for (const l of lines) expect(l).toMatchObject({ status: 502, connection: 'none', error: 'ECONNREFUSED' });
    expect(metricValue(await p.metrics(), 'synpool_request_duration_seconds_count', { connection: 'none', status_class: '5xx' })).toBe(3);

    // It comes back on the same port: requests succeed again.
    upstreams.push(await startNodeUpstream(topo, { port }));
    expect((await timed(`${p.url}/`)).status).toBe(200);
  });

  it('upstream host unreachable (no answer at all) → 504 at the connect timeout', async () => {
    const nobody = topo.serverAddr.replace(/\.\d+$/, '.3');
    const p = await proxy({ upstream: `http://${nobody}:80`, connectTimeoutMs: 1_000 });
    const res = await timed(`${p.url}/`);
    expect(res.status).toBe(504);
    expect(res.body).toBe('upstream connect timed out\n');
    expect(res.ms).toBeGreaterThanOrEqual(950);
    expect(res.ms).toBeLessThan(1_000 + 1_500);
    expect(p.log.requests()[0]).toMatchObject({ status: 504, error: 'UND_ERR_CONNECT_TIMEOUT' });
  });
});

describe('upstream restart with a full pool', () => {
  it('no request fails: entries the old server held are reset on first use and replayed on a plain connection, counted in /metrics', async () => {
    const SIZE = 6;
    // Connection: close upstream: every request takes a new connection, i.e. a pool entry.
    let server = await upstream({ connectionClose: true });
    const port = server.port;
    const proxyStartedAt = performance.now();
    const p = await proxy({
      upstream: `http://${topo.serverAddr}:${port}`,
      pool: { sizing: 'fixed', targetSize: SIZE, synRatePerSec: 50, synBurst: SIZE },
    });
    const ready = async (): Promise<number> => metricValue(await p.metrics(), 'synpool_pool_ready');
    await waitUntil('pool full', async () => (await ready()) >= SIZE, 5_000 + 10 * RTT_MS, 50);
    const client = new Pool(p.url, { connections: SIZE });
    clients.push(client);
    const get = async (): Promise<number> => {
      const res = await client.request({ method: 'GET', path: '/', headersTimeout: 10_000, bodyTimeout: 10_000 });
      await res.body.text();
      return res.statusCode;
    };

    const statuses: number[] = [];
    const t0 = performance.now();
    // Before: a request every 100 ms for 1.5 s (entries are taken and refilled).
    for (let i = 0; i < 15 && performance.now() - t0 < 5_000; i++) {
      statuses.push(await get());
      await sleep(100);
    }
    await waitUntil('pool full again', async () => (await ready()) >= SIZE, 3_000, 20);
    // The restart. Requests pause only while nothing listens (a plain connect
    // would be refused then too); the pool still holds the old server's entries.
    upstreams.splice(upstreams.indexOf(server), 1);
    await server.stop();
    server = await startNodeUpstream(topo, { port, connectionClose: true });
    upstreams.push(server);
    // A burst that takes every old entry at once, then the loop again.
    statuses.push(...(await Promise.all(Array.from({ length: SIZE }, () => get()))));
    const t1 = performance.now();
    for (let i = 0; i < 30 && performance.now() - t1 < 6_000; i++) {
      statuses.push(await get());
      await sleep(100);
    }

    const report = JSON.stringify({ statuses: statuses.join(''), log: p.log.requests().map((l) => `${l.status}:${l.connection}${l.retried ? '↻' : ''}`).join(' ') });
    expect(statuses.filter((s) => s !== 200), report).toEqual([]);
    const metrics = await p.metrics();
    const retried = metricValue(metrics, 'synpool_upstream_retries_total', { reason: 'pooled-reset' });
    expect(retried, report).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'synpool_fallbacks_total', { reason: 'pooled-reset' })).toBe(retried);
    const replayed = p.log.requests().filter((l) => l.retried === true);
    expect(replayed.length).toBe(retried);
    for (const l of replayed) expect(l).toMatchObject({ status: 200, connection: 'plain' });
    // One restart is one server event: the burst's entries were all of the old
    // server's generation, so their deaths are one observation of their age at
    // take time, and one observation does not shorten the TTL.
    const pool = (p.running.agent.source as PoolConnectionSource).pool.snapshot()[0]!;
    expect(pool.deadOnUse, report).toBe(retried);
    expect(pool.learned.earlyDeaths, report).toBe(1);
    // What was learned is the dead entry's own age (younger than the proxy), not the TTL in force.
    expect(pool.learned.observedLifetimeMs, report).toBeLessThan(performance.now() - proxyStartedAt);
    expect(pool.effectiveTtlMs, report).toBe(50_000);
    expect(metricValue(metrics, 'synpool_pool_effective_ttl_seconds'), report).toBe(50);
    // After the restart the pool refilled from the new server and served again.
    const tail = p.log.requests().slice(-10);
    expect(tail.filter((l) => l.connection === 'pool').length, report).toBeGreaterThanOrEqual(5);
  }, 60_000);
});

describe('bad configuration through main()', () => {
  function io(): { io: { stdout: Writable; stderr: Writable }; err: () => string } {
    let text = '';
    const sink = (): Writable =>
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          text += chunk.toString();
          cb();
        },
      });
    return { io: { stdout: sink(), stderr: sink() }, err: () => text };
  }

  const upstreamFlag = (): string[] => ['--upstream', `http://${topo.serverAddr}:9`];

  it.each([
    ['a listen address without a port', () => [...upstreamFlag(), '--listen', '127.0.0.1'], 'listen'],
    ['a non-http upstream', () => ['--upstream', 'ftp://10.0.0.1/'], 'upstream'],
    ['no upstream at all', () => ['--listen', '127.0.0.1:0'], 'upstream'],
    ['a pool size that is not a number', () => [...upstreamFlag(), '--pool-size', 'many'], 'pool.targetSize'],
    ['a log level that does not exist', () => [...upstreamFlag(), '--log-level', 'loud'], 'logLevel'],
    ['an unknown flag', () => [...upstreamFlag(), '--colour'], 'colour'],
    ['a zero connect timeout in the file', () => ['--config', file({ upstream: `http://${topo.serverAddr}:9`, connectTimeoutMs: 0 })], 'connectTimeoutMs'],
    ['an unknown key in the file', () => ['--config', file({ upstream: `http://${topo.serverAddr}:9`, conectTimeoutMs: 10 })], 'conectTimeoutMs'],
    ['an unknown pool field in the file', () => ['--config', file({ upstream: `http://${topo.serverAddr}:9`, pool: { sise: 3 } })], 'pool.sise'],
  ])('%s → exit 2, naming the field', async (_what, argv, field) => {
    const { io: streams, err } = io();
    const code = await Promise.race([main(argv(), streams), sleep(10_000).then(() => 'still running')]);
    expect(code, err()).toBe(2);
    expect(err()).toMatch(/^synpool: /);
    expect(err()).toContain(field);
  });

  let n = 0;
  function file(content: Record<string, unknown>): string {
    const path = join(topo.dir, `config-${++n}.json`);
    writeFileSync(path, JSON.stringify(content));
    return path;
  }
});
