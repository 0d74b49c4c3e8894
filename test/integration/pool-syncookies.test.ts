// An upstream that answers every SYN with a SYN cookie
// (net.ipv4.tcp_syncookies=2 in its namespace): it keeps no SYN_RECV entry and
// never retransmits its SYN-ACK, yet a handed-off entry works for minutes. The
// pool must not take the missing retransmits for deaths: idle, it holds its
// entries without refreshing them; at about one request per second it costs
// about one SYN per request. Real kernel, real node:http upstream, 30 ms RTT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTcpCounters } from '../../bench/pool/netstat.js';
import { sleep, waitUntil } from '../../bench/pool/wait-until.js';
import type { Topology } from '../../bench/topology/index.js';
import type { UpstreamServer } from '../../bench/upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { Handshaker } from '../../src/handshake/handshaker.js';
import type { PoolSnapshot } from '../../src/pool/pool-events.js';
import type { PoolManager } from '../../src/pool/pool-manager.js';
import { exchange } from '../helpers/http-exchange.js';
import { startPoolBed, type PoolBed } from '../helpers/pool-bed.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 15;
const RTT_MS = 2 * ONE_WAY_MS;
/** Long enough for today's entries to be overdue (~2 s) several times over. */
const IDLE_MS = 12_000;
const REQUESTS = 20;
const REQUEST_EVERY_MS = 1_000;

let topo: Topology;
let bed: PoolBed | undefined;
let node: UpstreamServer;
let hs: Handshaker;
let pool: PoolManager;
let target: Endpoint;

beforeAll(async () => {
  assertIntegrationPrerequisites(['sysctl']);
  bed = await startPoolBed({
    oneWayDelayMs: ONE_WAY_MS,
    prefix: 'spcookie',
    prepare: async (t) => {
      await t.exec('server', 'sysctl', ['-w', 'net.ipv4.tcp_syncookies=2']); // rejects on failure
      const now = (await t.exec('server', 'sysctl', ['-n', 'net.ipv4.tcp_syncookies'])).stdout.trim();
      if (now !== '2') throw new Error(`net.ipv4.tcp_syncookies is ${now} in the server namespace, not 2`);
    },
  }); // the pool's defaults: demand sizing
  ({ topo, node, target, hs, pool } = bed);
}, 60_000);

afterAll(async () => {
  await bed?.close();
});

const snap = (): PoolSnapshot => pool.snapshot()[0]!;

describe('an upstream answering with SYN cookies', () => {
  it('idle: entries are kept, not refreshed without end; ~1 req/s: about one SYN per request', async () => {
    const cookiesBefore = (await readTcpCounters(topo, 'server')).get('TcpExtSyncookiesSent') ?? Number.NaN;
    pool.start();
    await waitUntil('pool ready', () => snap().ready >= 2, 3_000 + 10 * RTT_MS);

    // Idle.
    await sleep(IDLE_MS);
    const idle = snap();
    const cookiesSent = ((await readTcpCounters(topo, 'server')).get('TcpExtSyncookiesSent') ?? Number.NaN) - cookiesBefore;
    let report = JSON.stringify({ cookiesSent, idle });
    // The server really answered with cookies, and sent no retransmit.
    expect(cookiesSent, report).toBeGreaterThanOrEqual(idle.synsSent);
    expect(idle.synAckRetransmits, report).toBe(0);
    expect(idle.synsSent, report).toBeLessThanOrEqual(3);
    expect(idle.evicted['retransmit-overdue'], report).toBe(0);
    expect(idle.effectiveTtlMs, report).toBe(50_000);
    expect(idle.ready, report).toBe(idle.targetReady);
    expect(idle.retransmitsTrusted, report).toBe(false);

    // About one request per second, each on a pooled connection when there is one.
    const statuses: number[] = [];
    let pooled = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const started = performance.now();
      const socket = pool.acquire(target);
      if (socket !== undefined) pooled++;
      const res = await exchange({ host: target.address, port: target.port, path: '/', socket, timeoutMs: 5_000 });
      statuses.push(res.status);
      await sleep(Math.max(0, REQUEST_EVERY_MS - (performance.now() - started)));
    }
    const busy = snap();
    const synsPerRequest = (busy.synsSent - idle.synsSent) / REQUESTS;
    report = JSON.stringify({ synsPerRequest, pooled, statuses: statuses.join(','), busy });
    expect(statuses.every((s) => s === 200), report).toBe(true);
    // Entries several seconds past their "overdue" time served requests: they were alive.
    expect(pooled, report).toBe(REQUESTS);
    expect(busy.deadOnUse, report).toBe(0);
    expect(synsPerRequest, report).toBeLessThanOrEqual(1.1);
    expect(busy.evicted['retransmit-overdue'], report).toBe(0);
    expect(busy.effectiveTtlMs, report).toBe(50_000);
  }, 90_000);
});
