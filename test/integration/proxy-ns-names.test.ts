// An upstream given by name, resolved through the system resolver from a
// per-namespace hosts file (/etc/netns/NS/hosts, which `ip netns exec` mounts
// over /etc/hosts for the synpool CLI): two addresses of one server across
// the delay line. Both get pools and requests; when the hosts file drops one,
// its pool is released (no request socket left on the server, no SYN after)
// and it takes no request; when the address comes back, so does its pool.
// A third address that refuses connections is passed over once its pool has
// found it unreachable.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';
import { startHostsFileCli, type HostsFileCli } from '../helpers/hosts-file-cli.js';
import { metricValue, waitUntil, type CliSynpool } from '../helpers/proxy-process.js';

const NAME = 'origin.test';
let topo: Topology;
let upstreams: http.Server[] = [];
let port: number;
let first: string;
let second: string;
/** Held by the server namespace, with nothing listening on it: SYNs to it are refused. */
let dead: string;
let synpool: CliSynpool | undefined;
let cli: HostsFileCli | undefined;

function writeHosts(addresses: readonly string[]): void {
  cli!.writeHosts(addresses);
}

/** The interface holding `address` in a namespace, and its MAC. */
async function interfaceOf(side: 'client' | 'server', address: string): Promise<{ ifname: string; mac: string }> {
  const { stdout } = await topo.exec(side, 'ip', ['-j', 'addr', 'show']);
  const links = JSON.parse(stdout) as Array<{ ifname: string; address: string; addr_info: Array<{ local: string }> }>;
  const link = links.find((l) => l.addr_info.some((a) => a.local === address));
  if (link === undefined) throw new Error(`no interface holds ${address} in the ${side} namespace`);
  return { ifname: link.ifname, mac: link.address };
}

/** One request through the proxy on a new connection; the upstream answers with the address it was reached on. */
async function servedBy(): Promise<string> {
  const { stdout } = await topo.exec('client', 'curl', ['-sS', '--max-time', '5', `${synpool!.url}/`]);
  return stdout.trim();
}

async function spread(n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const at = await servedBy();
    counts.set(at, (counts.get(at) ?? 0) + 1);
  }
  return counts;
}

const poolKey = (address: string): string => `${address}:${port}`;

beforeAll(async () => {
  assertIntegrationPrerequisites(['curl', 'ss']);
  topo = await createTopology({ oneWayDelayMs: 10, link: 'vde', prefix: 'synnames' });
  first = topo.serverAddr;
  second = topo.serverAddr.replace(/\.2$/, '.3');
  dead = topo.serverAddr.replace(/\.2$/, '.4');
  const server = await interfaceOf('server', first);
  const client = await interfaceOf('client', topo.clientAddr);
  for (const extra of [second, dead]) {
    await topo.exec('server', 'ip', ['addr', 'add', `${extra}/24`, 'dev', server.ifname]);
    await topo.exec('client', 'ip', ['neigh', 'replace', extra, 'lladdr', server.mac, 'dev', client.ifname, 'nud', 'permanent']);
  }

  const leave = enterNamespace(topo.netnsPath('server'));
  try {
    port = 0;
    for (const address of [first, second]) {
      const upstream = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
        res.end(req.socket.localAddress);
      });
      upstreams.push(upstream);
      upstream.listen(port, address);
      await once(upstream, 'listening');
      port = (upstream.address() as AddressInfo).port;
    }
  } finally {
    leave();
  }

  cli = await startHostsFileCli(topo, {
    name: NAME,
    addresses: [first, second],
    url: `http://${NAME}:${port}`,
    config: { resolveIntervalMs: 300, pool: { sizing: 'fixed', targetSize: 2, synRatePerSec: 50, synBurst: 10, unreachableAfterFailures: 2, backoffBaseMs: 100 } },
  });
  synpool = cli.synpool;
}, 60_000);

afterAll(async () => {
  await cli?.stop();
  for (const upstream of upstreams) upstream.close();
  await topo?.destroy();
});

describe('an upstream name with several addresses', () => {
  it('gives each address a pool and a share of the requests', async () => {
    const m0 = await synpool!.metrics();
    expect(metricValue(m0, 'synpool_upstream_addresses', { hostname: NAME })).toBe(2);
    await waitUntil(
      'both pools ready',
      async () => {
        const m = await synpool!.metrics();
        return metricValue(m, 'synpool_pool_ready', { upstream: poolKey(first) }) >= 1 && metricValue(m, 'synpool_pool_ready', { upstream: poolKey(second) }) >= 1;
      },
      10_000,
      50,
    );
    const counts = await spread(12);
    expect([...counts.keys()].sort()).toEqual([first, second].sort());
    // Every request is a new connection (the upstream closes each): strict rotation.
    expect(counts.get(first)).toBe(6);
    expect(counts.get(second)).toBe(6);
    const m = await synpool!.metrics();
    expect(metricValue(m, 'synpool_pool_hits_total', { upstream: poolKey(first) })).toBeGreaterThan(0);
    expect(metricValue(m, 'synpool_pool_hits_total', { upstream: poolKey(second) })).toBeGreaterThan(0);
  });

  it('an address that leaves the hosts file loses its pool and its requests; it comes back with a new one', async () => {
    const synRecv = async (): Promise<string> => (await topo.exec('server', 'ss', ['-Htn', 'state', 'syn-recv'])).stdout;
    // The pooled handshakes are request sockets on the server until released.
    expect(await synRecv()).toContain(`${second}:${port}`);
    writeHosts([first]);
    await waitUntil('one address left', async () => metricValue(await synpool!.metrics(), 'synpool_upstream_addresses', { hostname: NAME }) === 1, 5_000, 50);
    // The keeper (pools) and the worker (requests) each follow the name, within one resolve interval of each other.
    const workerSaw = (key: 'added' | 'removed'): boolean =>
      synpool!.log.lines().some((l) => l.msg === 'upstream addresses changed' && l.worker !== undefined && (l[key] as string[] | undefined)?.includes(poolKey(second)) === true);
    await waitUntil('the worker dropped the address', () => workerSaw('removed'), 5_000, 50);
    const changed = synpool!.log.lines().find((l) => l.msg === 'upstream addresses changed');
    expect(changed).toMatchObject({ hostname: NAME, removed: [poolKey(second)] });
    // Released with RSTs: the server holds no request socket for the old address any more.
    await waitUntil(
      'no SYN-RECV socket left on the removed address',
      async () => !(await synRecv()).includes(`${second}:${port}`),
      3_000,
      50,
    );
    const synsBefore = metricValue(await synpool!.metrics(), 'synpool_pool_syns_sent_total', { upstream: poolKey(second) });
    const counts = await spread(6);
    expect([...counts.keys()]).toEqual([first]);
    await new Promise((r) => setTimeout(r, 700)); // two more resolve intervals
    expect(metricValue(await synpool!.metrics(), 'synpool_pool_syns_sent_total', { upstream: poolKey(second) })).toBe(synsBefore);

    writeHosts([first, second]);
    await waitUntil(
      'the address is back with a ready pool',
      async () => metricValue(await synpool!.metrics(), 'synpool_pool_ready', { upstream: poolKey(second) }) >= 1,
      5_000,
      50,
    );
    await waitUntil('the worker uses the address again', () => workerSaw('added'), 5_000, 50);
    const again = await spread(4);
    expect(again.get(second)).toBe(2);
  });

  it('an address that refuses connections is passed over once its pool finds it unreachable', async () => {
    writeHosts([first, second, dead]);
    await waitUntil(
      'the refusing address is unreachable',
      () => synpool!.log.lines().some((l) => l.msg === 'pool upstream state' && l.upstream === poolKey(dead) && l.to === 'unreachable'),
      10_000,
      50,
    );
    expect(metricValue(await synpool!.metrics(), 'synpool_upstream_addresses', { hostname: NAME })).toBe(3);
    const counts = await spread(8);
    expect([...counts.keys()].sort()).toEqual([first, second].sort());
  });
});
