// `synpool --workers 2` started as root, in the client namespace, across a 100 ms
// delay line, against an upstream that closes every connection (so every request
// needs a new one): the processes that parse input hold nothing, the keeper holds
// exactly CAP_NET_RAW + CAP_NET_ADMIN, new connections still come from the pool
// through the workers, and killing a worker or the keeper loses no request that was
// not in flight.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, sleep, spawnCli, waitUntil, type CliSynpool } from '../helpers/proxy-process.js';

// 100 ms round trips: the pooled path (1 RTT) and a plain connect (2 RTT) stay apart under a loaded CI machine.
const ONE_WAY_MS = 50;
const RTT_MS = 2 * ONE_WAY_MS;
const NET_CAPS = (1n << 12n) | (1n << 13n);

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: UpstreamServer;
let cli: CliSynpool;

interface Status {
  uid: number;
  ppid: number;
  capEff: bigint;
  capPrm: bigint;
  noNewPrivs: boolean;
}

function status(pid: number): Status {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string): string => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(text)?.[1] ?? '';
  return { uid: Number(field('Uid')), ppid: Number(field('PPid')), capEff: BigInt(`0x${field('CapEff')}`), capPrm: BigInt(`0x${field('CapPrm')}`), noNewPrivs: field('NoNewPrivs') === '1' };
}

function pids(): { supervisor: number; keeper: number; workers: number[] } {
  const serving = cli.log.lines().find((l) => l.msg === 'synpool serving')!;
  const p = serving.pids as Record<string, number>;
  return { supervisor: status(p.keeper!).ppid, keeper: p.keeper!, workers: [p.worker1!, p.worker2!] };
}

/**
 * Pids holding a listening socket on the front address and port, from ss in the client namespace.
 * The address too: the keeper's port reservations are listeners on the namespace's own address,
 * and one may draw the front's port number (a CI run listed the keeper by `sport` alone; all of
 * its other descriptors are close-on-exec, so a reservation is the likely one).
 */
async function frontPortHolders(): Promise<number[]> {
  const r = await topo.exec('client', 'ss', ['-Hltnp', 'src', `${new URL(cli.url).hostname}:${cli.port}`]);
  return [...new Set([...r.stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

/** One GET on a new connection: the status, or the error's code. */
function get(): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(`${cli.url}/`, { agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

/** Sequential GETs for `ms` (bounded by count too), with `during` run once after `afterMs`. */
async function loadWhile(ms: number, afterMs: number, during: () => void): Promise<Array<number | string>> {
  const results: Array<number | string> = [];
  const t0 = performance.now();
  let fired = false;
  for (let i = 0; i < 400 && performance.now() - t0 < ms; i++) {
    if (!fired && performance.now() - t0 >= afterMs) {
      fired = true;
      during();
    }
    results.push(await get());
    await sleep(20);
  }
  return results;
}

beforeAll(async () => {
  assertIntegrationPrerequisites(['ss']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spwk' });
  upstream = await startNodeUpstream(topo, { connectionClose: true });
  leave = enterNamespace(topo.netnsPath('client'));
  cli = await spawnCli(topo, 'client', [
    '--upstream', `http://${topo.serverAddr}:${upstream.port}`, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--pool-size', '6', '--workers', '2',
  ]);
}, 60_000);

afterAll(async () => {
  await cli?.stop();
  leave?.();
  await upstream?.stop();
  await topo?.destroy();
});

describe('synpool --workers 2 as root', () => {
  it('every process on the front port has CapEff 0 and a non-root uid; only the keeper holds CAP_NET_RAW + CAP_NET_ADMIN; workers get EPERM for a raw socket', async () => {
    const p = pids();
    const holders = await frontPortHolders();
    expect(holders).toEqual([p.supervisor, ...p.workers].sort((a, b) => a - b));
    for (const pid of holders) {
      const s = status(pid);
      expect(s.capEff, `pid ${pid}`).toBe(0n);
      expect(s.uid, `pid ${pid}`).not.toBe(0);
      expect(s.noNewPrivs, `pid ${pid}`).toBe(true);
    }
    for (const pid of p.workers) expect(status(pid).capPrm, `worker ${pid} permitted set`).toBe(0n);
    const all = [p.supervisor, p.keeper, ...p.workers];
    const withNetCaps = all.filter((pid) => (status(pid).capEff & NET_CAPS) !== 0n);
    expect(withNetCaps).toEqual([p.keeper]);
    const keeper = status(p.keeper);
    expect(keeper.capEff).toBe(NET_CAPS);
    expect(keeper.uid).not.toBe(0);
    // The filters were loaded by the supervisor as root and passed on: the keeper, without CAP_BPF, attaches them by fd.
    const filters = cli.log.lines().filter((l) => typeof l.msg === 'string' && l.msg.startsWith('socket filters:'));
    expect(filters).toEqual([expect.objectContaining({ process: 'keeper', mode: 'ebpf' })]);
    const checks = cli.log.lines().filter((l) => l.msg === 'worker privileges');
    expect(checks.map((l) => l.worker).sort()).toEqual([1, 2]);
    for (const c of checks) expect(c).toMatchObject({ rawSocket: 'EPERM', capEff: '0', noNewPrivs: true });
  });

  it('new connections come from the pool through both workers, in well under 1.5 round trips', async () => {
    await waitUntil('pool filled', async () => metricValue(await cli.metrics(), 'synpool_pool_ready') >= 6, 10_000, 50);
    const times: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      expect(await get()).toBe(200);
      times.push(performance.now() - t0);
      await sleep(30);
    }
    await waitUntil('12 request lines', () => cli.log.requests().length >= 12, 2_000);
    const requests = cli.log.requests().slice(-12);
    expect(requests.filter((l) => l.connection === 'pool').length, JSON.stringify(requests.map((l) => l.connection))).toBeGreaterThanOrEqual(10);
    times.sort((a, b) => a - b);
    expect(times[Math.floor(times.length / 2)]).toBeLessThan(1.5 * RTT_MS);
    // The aggregate counts what both workers did.
    const metrics = await cli.metrics();
    expect(metricValue(metrics, 'synpool_request_duration_seconds_count')).toBeGreaterThanOrEqual(12);
    expect(metricValue(metrics, 'synpool_processes_ready', { role: 'worker' })).toBe(2);
    // After a worker's first, its requests take held connections (heldPerWorker, default 2): no round trip to the keeper.
    expect(metricValue(metrics, 'synpool_worker_held_connections_total', { outcome: 'used' })).toBeGreaterThanOrEqual(4);
  });

  it('a burst 4 × the pool: the requests beyond what the keeper said is ready connect plainly without asking, and the pool counts them as misses', async () => {
    const before = await cli.metrics();
    const results = await Promise.all(Array.from({ length: 24 }, () => get()));
    expect(results.filter((r) => r !== 200), JSON.stringify(results)).toEqual([]);
    const skipped = async (): Promise<number> =>
      metricValue(await cli.metrics(), 'synpool_worker_keeper_skipped_total') - metricValue(before, 'synpool_worker_keeper_skipped_total');
    await waitUntil('a request skipped its ask', async () => (await skipped()) >= 1, 3_000, 50);
    // The worker's `miss` lines reach the keeper's pool: at least as many misses as skipped asks.
    const missesNow = async (): Promise<number> => {
      const m = await cli.metrics();
      return metricValue(m, 'synpool_pool_misses_total', { reason: 'empty' }) - metricValue(before, 'synpool_pool_misses_total', { reason: 'empty' });
    };
    const n = await skipped();
    await waitUntil(`pool misses ≥ ${n} skipped`, async () => (await missesNow()) >= n, 3_000, 50);
    // 24 requests and at most the pool's 6 (and what refilled meanwhile) pooled: most of the rest never asked.
    const refused = metricValue(await cli.metrics(), 'synpool_keeper_refused_total', { code: 'POOL_EMPTY' }) - metricValue(before, 'synpool_keeper_refused_total', { code: 'POOL_EMPTY' });
    expect(n, `skipped ${n}, refused ${refused}`).toBeGreaterThan(refused);
  });

  it('a killed worker is restarted and no request that was not in flight is lost', async () => {
    const before = pids().workers[0]!;
    const results = await loadWhile(3_000, 500, () => process.kill(before, 'SIGKILL'));
    // At most the one request in flight on the killed worker may fail.
    expect(results.filter((r) => r !== 200).length, JSON.stringify(results)).toBeLessThanOrEqual(1);
    await waitUntil('worker 1 restarted', () => cli.log.lines().some((l) => l.msg === 'worker 1 restarted'), 10_000, 50);
    const holders = await frontPortHolders();
    expect(holders).not.toContain(before);
    expect(holders).toHaveLength(3);
    for (const pid of holders) expect(status(pid).capEff).toBe(0n);
  });

  it('a killed keeper: the workers keep serving with plain connects, the keeper is restarted and the pool serves again', async () => {
    const keeper = pids().keeper;
    const results = await loadWhile(4_000, 300, () => process.kill(keeper, 'SIGKILL'));
    expect(results.every((r) => r === 200), JSON.stringify(results)).toBe(true);
    await waitUntil('keeper restarted', () => cli.log.lines().some((l) => l.msg === 'keeper restarted'), 10_000, 50);
    await waitUntil('pool refilled', async () => metricValue(await cli.metrics(), 'synpool_pool_ready') >= 3, 10_000, 50);
    const seen = cli.log.requests().length;
    for (let i = 0; i < 4; i++) expect(await get()).toBe(200);
    await waitUntil('4 more request lines', () => cli.log.requests().length >= seen + 4, 2_000);
    expect(cli.log.requests().slice(seen).some((l) => l.connection === 'pool')).toBe(true);
  });
});
