// The pool over IPv6 (IPv6-only namespaces, 40 ms round trip): it fills
// through the AF_INET6 channel, the server holds one SYN_RECV entry per pooled
// entry, handed-out entries answer in about one round trip, and the pool
// refills what was taken.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synRecvCount } from '../../bench/pool/netstat.js';
import { waitUntil } from '../../bench/pool/wait-until.js';
import { exchange } from '../helpers/http-exchange.js';
import { startPoolBed, type PoolBed } from '../helpers/pool-bed.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;
const SIZE = 6;

let bed: PoolBed | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites(['ss']);
  bed = await startPoolBed({ oneWayDelayMs: ONE_WAY_MS, prefix: 'spp6', ip: 'v6', pool: { sizing: 'fixed', targetSize: SIZE } });
}, 60_000);

afterAll(async () => {
  await bed?.close();
});

describe('a fixed-size pool to an IPv6 upstream', () => {
  it(`fills to ${SIZE}, hands out working sockets in about one round trip, refills`, async () => {
    const { topo, node, target, pool, hs } = bed!;
    expect(target.address).toBe(topo.serverAddr6);
    pool.start();
    await waitUntil(`ready reaches ${SIZE}`, () => pool.snapshot()[0]!.ready === SIZE, 100 + 10 * RTT_MS + 1_000);
    expect(pool.snapshot()[0]).toMatchObject({ state: 'ok', ready: SIZE, pending: 0, synsSent: SIZE, synAcks: SIZE });
    expect(await synRecvCount(topo, 'server', node.port)).toBe(SIZE);
    const ttfb: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const socket = pool.acquire(target);
      expect(socket).toBeDefined();
      const res = await exchange({ host: target.address, port: target.port, path: '/bytes/50000', socket: socket!, startedAt: t0 });
      expect(res.status).toBe(200);
      expect(res.bytes).toBe(50_000);
      ttfb.push(res.ttfbMs);
    }
    const sorted = [...ttfb].sort((a, b) => a - b);
    expect(sorted[1]!, `TTFB ${ttfb.map((x) => x.toFixed(1)).join(', ')} ms at RTT ${RTT_MS}`).toBeLessThan(1.5 * RTT_MS);
    await waitUntil(`ready back to ${SIZE}`, () => pool.snapshot()[0]!.ready === SIZE, 2_000 + 10 * RTT_MS);
    expect(pool.snapshot()[0]!.synsSent).toBe(SIZE + 3);
    expect(hs.stats).toMatchObject({ malformed: 0, unmatched: 0 });
  }, 30_000);
});
