// `synpool probe` against a server across the emulated link: the JSON report,
// the capability check and the failure exits.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { PROBE_EXIT } from '../../src/commands/probe.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { probeInClient } from '../helpers/probe-in-namespace.js';

const ONE_WAY_MS = 20;
const CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

let topo: Topology;
let node: UpstreamServer;

beforeAll(async () => {
  assertIntegrationPrerequisites(['setpriv']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spp' });
  node = await startNodeUpstream(topo);
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await topo?.destroy();
});

describe('synpool probe', () => {
  it('--json reports the accelerated GET about one round trip faster than the plain one', async () => {
    const url = `http://${topo.serverAddr}:${node.port}/`;
    const { code, out, err } = await probeInClient(topo, [url, '--json', '--count', '3', '--wait', '50']);
    expect(err).toBe('');
    expect(code).toBe(PROBE_EXIT.ok);
    const r = JSON.parse(out) as {
      target: string;
      count: number;
      accelerated: { synAckRttMs: number; handoffUs: number; ttfbMs: number; totalMs: number };
      plain: { connectMs: number; ttfbMs: number; totalMs: number };
    };
    expect(r.target).toBe(`${topo.serverAddr}:${node.port}`);
    expect(r.count).toBe(3);
    const rtt = 2 * ONE_WAY_MS;
    expect(r.accelerated.synAckRttMs).toBeGreaterThan(0.9 * rtt);
    expect(r.accelerated.handoffUs).toBeGreaterThan(0);
    expect(r.accelerated.ttfbMs).toBeLessThan(1.5 * rtt);
    expect(r.plain.connectMs).toBeGreaterThan(0.9 * rtt);
    expect(r.plain.ttfbMs).toBeGreaterThanOrEqual(1.8 * rtt);
    // The probe released its reserved ports: no listener is left in the client namespace.
    expect((await topo.exec('client', 'ss', ['-Hltn'])).stdout.trim()).toBe('');
  });

  it('a refused port: a clear message and exit 4', async () => {
    const { code, err } = await probeInClient(topo, [`http://${topo.serverAddr}:1/`]);
    expect(code).toBe(PROBE_EXIT.upstream);
    expect(err).toMatch(/refused/);
  });

  it('no SYN-ACK: a clear message and exit 4', async () => {
    // An address on the server's subnet that nobody holds: the SYN goes unanswered.
    const silent = topo.serverAddr.replace(/\.\d+$/, '.77');
    const { code, err } = await probeInClient(topo, [`http://${silent}:80/`, '--timeout', '300']);
    expect(code).toBe(PROBE_EXIT.upstream);
    expect(err).toMatch(/no SYN-ACK .* within 300 ms/);
  });

  it('usage errors exit 2', async () => {
    expect((await probeInClient(topo, ['ftp://10.0.0.1/'])).code).toBe(PROBE_EXIT.usage);
    expect((await probeInClient(topo, ['http://10.0.0.1/', '--count', 'x'])).code).toBe(PROBE_EXIT.usage);
  });

  it('without CAP_NET_RAW and CAP_NET_ADMIN: names what is missing and exits 3', async () => {
    const url = `http://${topo.serverAddr}:${node.port}/`;
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        'ip',
        ['netns', 'exec', topo.clientNs, 'setpriv', '--inh-caps=-net_raw,-net_admin', '--bounding-set=-net_raw,-net_admin', process.execPath, CLI, 'probe', url],
        { timeout: 20_000 },
        (error, _stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(result.code).toBe(PROBE_EXIT.capability);
    expect(result.stderr).toMatch(/CAP_NET_RAW/);
    expect(result.stderr).toMatch(/CAP_NET_ADMIN/);
  });
});
