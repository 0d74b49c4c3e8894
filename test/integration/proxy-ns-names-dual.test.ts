// A name with an A and an AAAA record (a per-namespace hosts file), on a
// dual-stack link across the delay line: both addresses get a pool, and
// requests go over IPv4 and IPv6 alike.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { startHostsFileCli, type HostsFileCli } from '../helpers/hosts-file-cli.js';
import { metricValue, waitUntil, type CliSynpool } from '../helpers/proxy-process.js';

const NAME = 'dual.test';
let topo: Topology;
let upstream: http.Server | undefined;
let port: number;
let synpool: CliSynpool | undefined;
let cli: HostsFileCli | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites(['curl']);
  topo = await createTopology({ oneWayDelayMs: 10, link: 'vde', prefix: 'syndual', ip: 'dual' });
  const leave = enterNamespace(topo.netnsPath('server'));
  try {
    // '::' takes both families (IPv4 as ::ffff:a.b.c.d); the answer says which address was reached.
    upstream = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
      res.end(req.socket.localAddress);
    });
    upstream.listen(0, '::');
    await once(upstream, 'listening');
  } finally {
    leave();
  }
  port = (upstream.address() as AddressInfo).port;
  cli = await startHostsFileCli(topo, {
    name: NAME,
    addresses: [topo.serverAddr, topo.serverAddr6!],
    url: `http://${NAME}:${port}`,
    config: { pool: { sizing: 'fixed', targetSize: 2, synRatePerSec: 50, synBurst: 10 } },
  });
  synpool = cli.synpool;
}, 60_000);

afterAll(async () => {
  await cli?.stop();
  upstream?.close();
  await topo?.destroy();
});

describe('an upstream name with an A and an AAAA record', () => {
  it('pools both addresses and sends requests over IPv4 and IPv6', async () => {
    const v4 = `${topo.serverAddr}:${port}`;
    const v6 = `[${topo.serverAddr6}]:${port}`;
    await waitUntil(
      'both pools ready',
      async () => {
        const m = await synpool!.metrics();
        return metricValue(m, 'synpool_pool_ready', { upstream: v4 }) >= 1 && metricValue(m, 'synpool_pool_ready', { upstream: v6 }) >= 1;
      },
      10_000,
      50,
    );
    const seen = new Map<string, number>();
    for (let i = 0; i < 8; i++) {
      const { stdout } = await topo.exec('client', 'curl', ['-sS', '--max-time', '5', `${synpool!.url}/`]);
      const at = stdout.trim();
      seen.set(at, (seen.get(at) ?? 0) + 1);
    }
    expect(seen.get(`::ffff:${topo.serverAddr}`)).toBe(4);
    expect(seen.get(topo.serverAddr6!)).toBe(4);
    const m = await synpool!.metrics();
    expect(metricValue(m, 'synpool_pool_hits_total', { upstream: v4 })).toBeGreaterThan(0);
    expect(metricValue(m, 'synpool_pool_hits_total', { upstream: v6 })).toBeGreaterThan(0);
  });
});
