// Issue 12: under a high rate of new connections the pool must keep working.
// wrk -t1 -c64 for 10 s through the built CLI (its own process in the client
// namespace), no added delay, nginx with keepalive_timeout 0 so every request
// is a new upstream connection (~2 000/s, ten times the default SYN budget).
// Before the fix the raw socket's filter admitted the SYN-ACKs of every plain
// connect, its buffer overflowed, the pool's own SYN-ACKs were lost and the
// pool declared the upstream unreachable within a second.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoadScenario, type LoadResult } from '../../bench/load/load-scenario.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNginxUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, spawnCli, waitUntil, type CliSynpool } from '../helpers/proxy-process.js';

const UPSTREAM_PORT = 8080;
const DURATION_S = 10;
/** Default synRatePerSec is 200: 2 000 SYNs in 10 s at most; a quarter of that proves the pool kept serving. */
const MIN_POOL_HITS = 500;
const SEQUENTIAL = 20;
/** More than the pool can serve in the run (2 000 SYNs + a burst of 50). */
const MIN_REQUESTS = 2_500;

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: UpstreamServer | undefined;
let cli: CliSynpool | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites(['nginx', 'wrk']);
  topo = await createTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'spld' });
  upstream = await startNginxUpstream(topo, { port: UPSTREAM_PORT, keepaliveTimeoutS: 0 });
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await cli?.stop();
  leave?.();
  await upstream?.stop();
  await topo?.destroy();
});

describe('the pool under ~2 000 new upstream connections per second', () => {
  it('stays reachable, serves at its SYN budget, and serves sequential requests right after', async () => {
    // Default settings: the reproduction of the review.
    cli = await spawnCli(topo, 'client', ['--upstream', `http://${topo.serverAddr}:${UPSTREAM_PORT}`, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0']);
    await waitUntil('pool has a ready entry', async () => metricValue(await cli!.metrics(), 'synpool_pool_ready') >= 1, 5_000, 50);

    const r: LoadResult = await runLoadScenario(topo, 'client', { port: cli.port, metrics: () => cli!.metrics(), pid: cli.child.pid }, {
      threads: 1,
      connections: 64,
      durationS: DURATION_S,
      pollEveryMs: 100,
      sequential: SEQUENTIAL,
    });
    // With where the sequential requests' upstream connections came from, and what the processes warned of.
    const lastSources = cli.log.requests().slice(-SEQUENTIAL).map((l) => l.connection);
    const warnings = cli.log.lines().filter((l) => (l.level ?? 0) >= 40).map((l) => l.msg);
    const summary = JSON.stringify({ ...r, wrk: { ...r.wrk }, lastSources, warnings });

    // The load really outran the pool's SYN budget (200/s + a burst of 50: plain connects had to
    // run beside pooled ones; 3 967 to 18 000 requests measured here, the least under load average 6),
    // and it was served.
    expect(r.wrk.requests, summary).toBeGreaterThan(MIN_REQUESTS);
    expect(r.wrk.non2xx3xx + r.wrk.socketErrors, summary).toBe(0);
    // The upstream was never taken for unreachable, seen at least twice a second (54–81 scrapes measured).
    expect(r.reachableSamples, summary).toBeGreaterThanOrEqual(2 * DURATION_S);
    expect(r.reachableMin, summary).toBe(1);
    expect(cli.log.lines().filter((l) => l.msg === 'pool upstream state' && l.to !== 'ok'), summary).toEqual([]);
    // The pool kept handing out connections.
    expect(r.poolHits, summary).toBeGreaterThanOrEqual(MIN_POOL_HITS);
    // Right after the load the pool has an entry for every sequential request: none is a miss.
    // With the keeper in its own process, CI runs (other test files beside this one) saw one
    // request in 20 connect without reaching the pool at all — neither a miss nor a timed-out
    // wait for the keeper (both counted here): one such request is tolerated, more fail.
    expect(r.sequential.ok, summary).toBe(SEQUENTIAL);
    expect(r.sequential.poolMisses, summary).toBe(0);
    expect(r.sequential.poolHits, summary).toBeGreaterThanOrEqual(SEQUENTIAL - 1);
    expect(r.sequential.keeperTimeouts, summary).toBeLessThanOrEqual(1);
    // Drops are counted, not inferred (and with the tagged filter there are none to speak of).
    expect(r.channelDrops, summary).not.toBeNull();
  }, 90_000);
});
