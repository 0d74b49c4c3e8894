// The built CLI (dist/src/cli.js; `npm run build` first) as its own process in
// the client namespace, across a 40 ms delay line: with every capability its
// keeper serves from the pool; started without CAP_NET_RAW and CAP_NET_ADMIN (setpriv
// or capsh drop them from the bounding set, so the root process cannot have
// them) it warns once, naming what is missing, and serves with plain connects.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { metricValue, spawnCli, waitUntil, type CliSynpool } from '../helpers/proxy-process.js';

const ONE_WAY_MS = 20;
const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: UpstreamServer;
const clis: CliSynpool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['setpriv', 'capsh']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spnc' });
  // Keep-alive off upstream-side: every request needs a new connection, so the source shows in every log line.
  upstream = await startNodeUpstream(topo, { connectionClose: true });
  // The CLI listens on 127.0.0.1 of the client namespace; this process talks to it from there.
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clis.map((c) => c.stop()));
  leave?.();
  await upstream?.stop();
  await topo?.destroy();
});

async function start(wrapper: readonly string[] = []): Promise<CliSynpool> {
  const args = ['--upstream', `http://${topo.serverAddr}:${upstream.port}`, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--pool-size', '4'];
  const cli = await spawnCli(topo, 'client', args, wrapper);
  clis.push(cli);
  return cli;
}

function effectiveCaps(pid: number): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return BigInt(`0x${m?.[1] ?? '0'}`);
}
const has = (caps: bigint, bit: bigint): boolean => ((caps >> bit) & 1n) === 1n;

async function getOk(cli: CliSynpool, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${cli.url}/`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  }
}

describe('the CLI in the client namespace', () => {
  it('with CAP_NET_RAW and CAP_NET_ADMIN: no warning, acceleration on, requests served from the pool', async () => {
    const cli = await start();
    // The keeper holds them (and only it: test/integration/workers-privileges.test.ts); the supervisor does not.
    const pids = cli.log.lines().find((l) => l.msg === 'synpool serving')!.pids as Record<string, number>;
    expect(has(effectiveCaps(pids.keeper!), CAP_NET_RAW)).toBe(true);
    expect(effectiveCaps(cli.child.pid!)).toBe(0n);
    await waitUntil('pool filled', async () => metricValue(await cli.metrics(), 'synpool_pool_ready') >= 4, 5_000, 50);
    await getOk(cli, 3);
    const metrics = await cli.metrics();
    expect(metricValue(metrics, 'synpool_acceleration_enabled')).toBe(1);
    expect(cli.log.lines().filter((l) => l.level === 40)).toEqual([]);
    await waitUntil('3 request lines', () => cli.log.requests().length >= 3, 2_000);
    expect(cli.log.requests().map((l) => l.connection)).toEqual(['pool', 'pool', 'pool']);
  });

  it.each([
    ['setpriv', ['setpriv', '--inh-caps=-net_raw,-net_admin', '--bounding-set=-net_raw,-net_admin']],
    ['capsh', ['capsh', '--drop=cap_net_raw,cap_net_admin', '--', '-c', 'exec "$0" "$@"']],
  ])('without them (%s): one warning naming both, synpool_acceleration_enabled 0, requests served with plain connects', async (_tool, wrapper) => {
    const cli = await start(wrapper);
    const pids = cli.log.lines().find((l) => l.msg === 'synpool serving')!.pids as Record<string, number>;
    const caps = effectiveCaps(pids.keeper!);
    expect(has(caps, CAP_NET_RAW) || has(caps, CAP_NET_ADMIN), `CapEff ${caps.toString(16)}`).toBe(false);

    const warnings = cli.log.lines().filter((l) => l.level === 40);
    expect(warnings, cli.log.text).toHaveLength(1);
    expect(String(warnings[0]!.msg)).toMatch(/acceleration is off/);
    expect(String(warnings[0]!.msg)).toContain('CAP_NET_RAW');
    expect(String(warnings[0]!.msg)).toContain('CAP_NET_ADMIN');
    expect(cli.log.lines().find((l) => l.msg === 'synpool serving')).toMatchObject({ accelerated: false });

    await getOk(cli, 3);
    const metrics = await cli.metrics();
    expect(metricValue(metrics, 'synpool_acceleration_enabled')).toBe(0);
    expect(metricValue(metrics, 'synpool_request_duration_seconds_count', { connection: 'plain', status_class: '2xx' })).toBe(3);
    await waitUntil('3 request lines', () => cli.log.requests().length >= 3, 2_000);
    expect(cli.log.requests().map((l) => l.connection)).toEqual(['plain', 'plain', 'plain']);
    // Still exactly one warning after serving.
    expect(cli.log.lines().filter((l) => l.level === 40)).toHaveLength(1);
  });

  it('as uid 0 with only CAP_NET_RAW + CAP_NET_ADMIN (a container that drops ALL and adds those two): stays uid 0, says so once, the keeper keeps the two, the workers drop them, requests come from the pool', async () => {
    const cli = await start(['setpriv', '--bounding-set=-all,+net_raw,+net_admin', '--inh-caps=-all']);
    const pids = cli.log.lines().find((l) => l.msg === 'synpool serving')!.pids as Record<string, number>;
    expect(effectiveCaps(pids.keeper!)).toBe((1n << CAP_NET_RAW) | (1n << CAP_NET_ADMIN));
    for (const worker of [pids.worker1!]) {
      const status = readFileSync(`/proc/${worker}/status`, 'utf8');
      expect(/^CapPrm:\s*0+$/m.test(status), status).toBe(true);
      expect(effectiveCaps(worker)).toBe(0n);
    }
    const warnings = cli.log.lines().filter((l) => l.level === 40);
    expect(warnings.map((l) => l.msg)).toEqual(['cannot become nobody (no CAP_SETUID/CAP_SETGID): every process stays uid 0, the workers still with no capability']);
    await waitUntil('pool filled', async () => metricValue(await cli.metrics(), 'synpool_pool_ready') >= 4, 5_000, 50);
    await getOk(cli, 3);
    await waitUntil('3 request lines', () => cli.log.requests().length >= 3, 2_000);
    expect(cli.log.requests().map((l) => l.connection)).toEqual(['pool', 'pool', 'pool']);
  });
});
