// A small-backlog upstream (Python's http.server: listen backlog 5) with
// `upstreamBacklog: 5` configured: the pool caps itself at floor(5 / 4) = 1
// entry and never pushes the server into SYN cookies. A control run without
// the hint (8 entries against the same server) shows the counters do move
// when the queue overflows, so "did not rise" means something.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTcpCounters, synRecvCount } from '../../bench/pool/netstat.js';
import { sleep, waitUntil } from '../../bench/pool/wait-until.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startPythonUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { exchange } from '../helpers/http-exchange.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 15;
const RTT_MS = 2 * ONE_WAY_MS;
const COOKIE_COUNTERS = ['TcpExtTCPReqQFullDoCookies', 'TcpExtSyncookiesSent'] as const;
const PRESSURE_COUNTERS = [...COOKIE_COUNTERS, 'TcpExtTCPReqQFullDrop', 'TcpExtListenOverflows', 'TcpExtListenDrops'] as const;

let topo: Topology;
let leave: (() => void) | undefined;
let python: UpstreamServer;
let hs: Handshaker;
let target: Endpoint;
const pools: PoolManager[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['ss', 'python3']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spbklog' });
  python = await startPythonUpstream(topo, { port: 8000 });
  target = { address: topo.serverAddr, port: python.port };
  leave = enterNamespace(topo.netnsPath('client'));
  hs = Handshaker.create({ targets: [target] });
}, 60_000);

afterAll(async () => {
  for (const p of pools) p.close();
  hs?.close();
  leave?.();
  await python?.stop();
  await topo?.destroy();
});

async function counters(names: readonly string[]): Promise<Record<string, number>> {
  const all = await readTcpCounters(topo, 'server');
  return Object.fromEntries(names.map((n) => [n, all.get(n) ?? Number.NaN]));
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(before).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));
}

describe("Python's http.server (backlog 5)", () => {
  it('with upstreamBacklog 5 the pool holds at most 1 entry and causes no SYN cookies', async () => {
    const before = await counters(PRESSURE_COUNTERS);
    for (const n of PRESSURE_COUNTERS) expect(before[n], n).not.toBeNaN();
    // Asks for 8; the cap keeps it at floor(5 / 4) = 1.
    const pool = new PoolManager({ driver: hs, upstreams: [{ target, upstreamBacklog: 5, sizing: 'fixed', targetSize: 8 }] });
    pools.push(pool);
    pool.start();
    await waitUntil('one entry ready', () => pool.snapshot()[0]!.ready === 1, 3_000 + 10 * RTT_MS);
    expect(pool.snapshot()[0]).toMatchObject({ cap: 1, targetReady: 1 });

    // Use it: every take is followed by one refill SYN, never more than one outstanding.
    let most = 0;
    let mostSynRecv = 0;
    for (let i = 0; i < 10; i++) {
      await waitUntil('entry ready', () => pool.snapshot()[0]!.ready === 1, 3_000 + 10 * RTT_MS);
      const s = pool.snapshot()[0]!;
      most = Math.max(most, s.ready + s.pending);
      mostSynRecv = Math.max(mostSynRecv, await synRecvCount(topo, 'server', target.port));
      const socket = pool.acquire(target);
      expect(socket).toBeDefined();
      const res = await exchange({ host: target.address, port: target.port, path: '/', socket: socket!, timeoutMs: 5_000 });
      expect(res.status).toBe(200);
    }
    // Then let the last entry sit: without pressure the server keeps
    // retransmitting its SYN-ACK past 3 s (under pressure it would stop and
    // drop the entry after ~7 s).
    const sampleUntil = performance.now() + 9_000;
    for (let i = 0; i < 100 && performance.now() < sampleUntil; i++) {
      const s = pool.snapshot()[0]!;
      most = Math.max(most, s.ready + s.pending);
      mostSynRecv = Math.max(mostSynRecv, await synRecvCount(topo, 'server', target.port));
      await sleep(100);
    }
    const snap = pool.snapshot()[0]!;
    const after = await counters(PRESSURE_COUNTERS);
    const report = JSON.stringify({ delta: delta(after, before), most, mostSynRecv, snap });
    expect(most, report).toBeLessThanOrEqual(1);
    expect(mostSynRecv, report).toBeLessThanOrEqual(1);
    expect(delta(after, before), report).toEqual(Object.fromEntries(PRESSURE_COUNTERS.map((n) => [n, 0])));
    expect(snap.ready).toBe(1);
    expect(snap.synAckRetransmits, report).toBeGreaterThanOrEqual(3);
    expect(snap.evicted['retransmit-overdue'], report).toBe(0);
    pool.close();
  }, 45_000);

  it('control: without the hint, 8 entries overflow its SYN queue and the cookie counters rise', async () => {
    const before = await counters(COOKIE_COUNTERS);
    const pool = new PoolManager({ driver: hs, upstreams: [{ target, sizing: 'fixed', targetSize: 8 }] });
    pools.push(pool);
    pool.start();
    await waitUntil('8 entries ready', () => pool.snapshot()[0]!.ready === 8, 3_000 + 10 * RTT_MS);
    await sleep(5 * RTT_MS);
    const d = delta(await counters(COOKIE_COUNTERS), before);
    pool.close();
    // The server's request queue holds backlog + 1 = 6; the other two got cookies.
    expect(d.TcpExtTCPReqQFullDoCookies, JSON.stringify(d)).toBeGreaterThanOrEqual(1);
    expect(d.TcpExtSyncookiesSent, JSON.stringify(d)).toBeGreaterThanOrEqual(1);
  });
});
