// An upstream restart while requests flow: the entries the old server held
// die with it. A request loop that takes from the pool, and on
// SYNPOOL_ERR_POOLED_RESET reports the entry dead and retries once on a
// plain connection, loses nothing; the pool then refills from the new server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, waitUntil } from '../../bench/pool/wait-until.js';
import type { Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import type { Handshaker } from '../../src/handshake/handshaker.js';
import type { PoolManager } from '../../src/pool/pool-manager.js';
import { exchange } from '../helpers/http-exchange.js';
import { startPoolBed, type PoolBed } from '../helpers/pool-bed.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 15;
const RTT_MS = 2 * ONE_WAY_MS;
const SIZE = 6;
const REQUEST_EVERY_MS = 100;
const RESTART_AT_MS = 3_000;
const LOOP_MS = 12_000;

let topo: Topology;
let bed: PoolBed | undefined;
let node: UpstreamServer;
let hs: Handshaker;
let pool: PoolManager;
let target: Endpoint;

beforeAll(async () => {
  assertIntegrationPrerequisites();
  bed = await startPoolBed({ oneWayDelayMs: ONE_WAY_MS, prefix: 'sprst', pool: { sizing: 'fixed', targetSize: SIZE } });
  ({ topo, node, target, hs, pool } = bed);
}, 60_000);

afterAll(async () => {
  await bed?.close();
});

interface Outcome {
  via: 'pool' | 'plain' | 'pool→plain';
  status: number | undefined;
  error?: string;
}

/** One request the way the proxy makes it: a pooled connection if there is one, one replay on a plain connection after a pooled reset. */
async function request(): Promise<Outcome> {
  const entry = pool.take(target);
  if (entry === undefined) {
    const res = await exchange({ host: target.address, port: target.port, path: '/', timeoutMs: 5_000 });
    return { via: 'plain', status: res.status };
  }
  try {
    const socket = hs.handoff(entry);
    const res = await exchange({ host: target.address, port: target.port, path: '/', socket, timeoutMs: 5_000 });
    return { via: 'pool', status: res.status };
  } catch (err) {
    if ((err as { code?: string }).code !== 'SYNPOOL_ERR_POOLED_RESET') throw err;
    pool.reportDead(entry);
    const res = await exchange({ host: target.address, port: target.port, path: '/', timeoutMs: 5_000 });
    return { via: 'pool→plain', status: res.status };
  }
}

describe('an upstream restart under a request loop', () => {
  it('loses no request, and the pool refills from the new server', async () => {
    pool.start();
    await waitUntil('pool ready', () => pool.snapshot()[0]!.ready === SIZE, 3_000 + 10 * RTT_MS);

    const outcomes: Outcome[] = [];
    // Requests wait while no server listens at all (between stop and start):
    // a plain connect would be refused then too, and that is not what is tested.
    let restarting: Promise<void> | undefined;
    let restartedAt = Infinity;
    const t0 = performance.now();
    const maxRequests = Math.ceil(LOOP_MS / REQUEST_EVERY_MS) + 10;
    for (let i = 0; i < maxRequests && performance.now() - t0 < LOOP_MS; i++) {
      if (restarting === undefined && performance.now() - t0 >= RESTART_AT_MS) {
        restarting = (async () => {
          const port = node.port;
          await node.stop();
          node = await startNodeUpstream(topo, { port });
          bed!.node = node; // so close() stops the live one
          restartedAt = performance.now();
        })();
        await restarting;
      }
      const started = performance.now();
      try {
        outcomes.push(await request());
      } catch (err) {
        outcomes.push({ via: 'pool', status: undefined, error: String(err) });
      }
      await sleep(Math.max(0, REQUEST_EVERY_MS - (performance.now() - started)));
    }
    expect(restartedAt).toBeLessThan(Infinity);

    const lost = outcomes.filter((o) => o.status !== 200);
    const count = (via: Outcome['via']): number => outcomes.filter((o) => o.via === via).length;
    const snap = pool.snapshot()[0]!;
    const report = JSON.stringify({ lost, pool: count('pool'), plain: count('plain'), replayed: count('pool→plain'), snap });
    expect(lost, report).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(50);
    // The old server's entries failed: reset on first use (and replayed), or
    // evicted when their SYN-ACK retransmits stopped.
    expect(count('pool→plain') + snap.evicted.reset + snap.evicted['retransmit-overdue'], report).toBeGreaterThanOrEqual(1);
    expect(snap.deadOnUse).toBe(count('pool→plain'));
    // One restart is one server event: the first death on use evicts the older
    // siblings, so few requests pay a failed attempt and the learned TTL holds.
    expect(count('pool→plain'), report).toBeLessThanOrEqual(2);
    expect(snap.effectiveTtlMs, report).toBe(snap.configuredTtlMs);
    // Most requests still went through the pool.
    expect(count('pool'), report).toBeGreaterThan(outcomes.length / 2);

    // Recovery: back to the target, and every entry now answers from the new server.
    await waitUntil('ready back to target', () => pool.snapshot()[0]!.ready === SIZE, 5_000 + 10 * RTT_MS);
    expect(pool.snapshot()[0]!.state).toBe('ok');
    for (let i = 0; i < SIZE; i++) {
      const entry = pool.take(target);
      expect(entry).toBeDefined();
      const res = await exchange({ host: target.address, port: target.port, path: '/', socket: hs.handoff(entry!), timeoutMs: 5_000 });
      expect(res.status).toBe(200);
    }
  }, 60_000);
});
