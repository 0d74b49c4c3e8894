// A second synpool on an address in use: the built CLI (dist/src/cli.js; `npm
// run build` first) in the client namespace exits 1 with one line naming the
// address and the reason, and sends no SYN: its listeners are bound before
// the pool starts. tcpdump in the upstream's namespace counts the SYNs; the
// first instance runs with --no-accel and serves no request, so the second
// instance's pool would be the only SYN source. A third, accelerated instance
// on free ports shows the capture does see a pool's SYNs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSynCapture, type SynCapture } from '../../bench/pool/syn-capture.js';
import { waitForExit, stopChild } from '../../bench/topology/child-output.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { CLI_PATH, metricValue, spawnCli, waitUntil, type CliSynpool } from '../helpers/proxy-process.js';

const POOL_SIZE = 4;

let topo: Topology;
let leave: (() => void) | undefined;
let upstream: UpstreamServer;
let capture: SynCapture | undefined;
const clis: CliSynpool[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites(['tcpdump']);
  topo = await createTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'spcl' });
  upstream = await startNodeUpstream(topo);
  // The CLIs listen on 127.0.0.1 of the client namespace; this process reads their metrics from there.
  leave = enterNamespace(topo.netnsPath('client'));
}, 60_000);

afterAll(async () => {
  await capture?.stop().catch(() => undefined);
  await Promise.allSettled(clis.map((c) => c.stop()));
  leave?.();
  await upstream?.stop();
  await topo?.destroy();
});

const upstreamFlag = (): string[] => ['--upstream', `http://${topo.serverAddr}:${upstream.port}`];

/** Runs the CLI to its exit (bounded); returns the exit code and stderr. */
async function runToExit(args: readonly string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = topo.spawn('client', process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr?.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdout?.setEncoding('utf8').on('data', (t: string) => (stdout += t));
  const exited = await waitForExit(child, 10_000);
  if (!exited) await stopChild(child, 1_000);
  expect(exited, `the second instance should exit by itself; stderr: ${stderr}`).toBe(true);
  return { code: child.exitCode, stderr, stdout };
}

describe('a second instance on an address in use', () => {
  it('exits 1 with one line naming the address and the reason, and sends no SYN', async () => {
    const first = await spawnCli(topo, 'client', [...upstreamFlag(), '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--no-accel']);
    clis.push(first);
    const metricsPort = Number(new URL(first.metricsUrl).port);

    capture = await startSynCapture(topo, 'server', [topo.serverAddr]);
    const frontTaken = await runToExit([...upstreamFlag(), '--listen', `127.0.0.1:${first.port}`, '--metrics-listen', '127.0.0.1:0', '--pool-size', String(POOL_SIZE)]);
    const metricsTaken = await runToExit([...upstreamFlag(), '--listen', '127.0.0.1:0', '--metrics-listen', `127.0.0.1:${metricsPort}`, '--pool-size', String(POOL_SIZE)]);
    // Long enough for a started pool's first SYNs to reach the upstream (a veth hop, no delay).
    await new Promise((r) => setTimeout(r, 300));
    const synsWhileFailing = await capture.stop();

    // Then a third instance on free ports, accelerated: the same capture sees its pool fill.
    capture = await startSynCapture(topo, 'server', [topo.serverAddr]);
    const third = await spawnCli(topo, 'client', [...upstreamFlag(), '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0', '--pool-size', String(POOL_SIZE)]);
    clis.push(third);
    await waitUntil('the third instance fills its pool', async () => metricValue(await third.metrics(), 'synpool_pool_ready') >= POOL_SIZE, 10_000, 50);
    const synsOfThird = await capture.stop();
    capture = undefined;

    // Soft: one run reports every way it went wrong (code, stderr, SYNs).
    expect.soft(frontTaken.code).toBe(1);
    expect.soft(frontTaken.stderr).toBe(`synpool: cannot listen on 127.0.0.1:${first.port} (listen): address already in use\n`);
    expect.soft(metricsTaken.code).toBe(1);
    expect.soft(metricsTaken.stderr).toBe(`synpool: cannot listen on 127.0.0.1:${metricsPort} (metricsListen): address already in use\n`);
    expect.soft(synsWhileFailing, 'SYNs from an instance that could not listen').toEqual([]);
    expect(synsOfThird.length, 'the capture sees a pool filling').toBeGreaterThanOrEqual(POOL_SIZE);
    // The first instance was not disturbed.
    expect((await fetch(`${first.url}/`, { signal: AbortSignal.timeout(5_000) })).status).toBe(200);
  });
});
