// The handshake layer over IPv6 on a real kernel: namespaces with ULA
// addresses and no IPv4 between them, raw SYNs through the AF_INET6 channel,
// SYN-ACKs through its kernel filter (the source read via SKF_NET_OFF),
// TCP_REPAIR on an AF_INET6 socket carrying an HTTP exchange, disallow(),
// and one handshaker serving both families at once.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synRecvCount } from '../../bench/pool/netstat.js';
import { waitUntil } from '../../bench/pool/wait-until.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { TargetNotAllowedError } from '../../src/errors.js';
import { awaitEstablished } from '../../src/handshake/await-established.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { tcpInfo } from '../../native/socket-ops.js';
import { exchange } from '../helpers/http-exchange.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 20;
const RTT_MS = 2 * ONE_WAY_MS;
/** Nothing listens there: a SYN to it is answered with RST+ACK. */
const CLOSED_PORT = 9;

let v6only: Topology;
let dual: Topology;
let up6: UpstreamServer;
let upDual: UpstreamServer;
const handshakers: Handshaker[] = [];

beforeAll(async () => {
  assertIntegrationPrerequisites();
  v6only = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'sp6', ip: 'v6' });
  up6 = await startNodeUpstream(v6only);
  dual = await createTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'sp6d', ip: 'dual' });
  upDual = await startNodeUpstream(dual, { host: '::' });
}, 90_000);

afterAll(async () => {
  for (const h of handshakers) h.close();
  await up6?.stop();
  await upDual?.stop();
  await v6only?.destroy();
  await dual?.destroy();
});

/** Runs `fn` with the calling thread in `topo`'s client namespace (sockets made inside stay there). */
async function inClient<T>(topo: Topology, fn: () => Promise<T>): Promise<T> {
  const leave = enterNamespace(topo.netnsPath('client'));
  try {
    return await fn();
  } finally {
    leave();
  }
}

describe('the IPv6-only topology', () => {
  it('has IPv6 on, ULA addresses, and no IPv4 address or route between the namespaces', async () => {
    expect(v6only.ipMode).toBe('v6');
    expect(v6only.serverAddr).toBe(v6only.serverAddr6);
    expect(v6only.serverAddr6).toMatch(/^fd00:[0-9a-f]+(:[0-9a-f]+)?::2$/);
    for (const side of ['client', 'server'] as const) {
      const sysctl = await v6only.exec(side, 'sh', ['-c', 'cat /proc/sys/net/ipv6/conf/*/disable_ipv6']);
      expect(sysctl.stdout.trim().split('\n').every((v) => v === '0')).toBe(true);
      const v4 = await v6only.exec(side, 'ip', ['-4', '-o', 'addr', 'show']);
      expect(v4.stdout.trim().split('\n').filter((l) => !/\blo\b/.test(l))).toEqual([]);
      const routes = await v6only.exec(side, 'ip', ['-4', 'route', 'show']);
      expect(routes.stdout.trim()).toBe('');
    }
    expect(v6only.measuredRttMs).toBeGreaterThan(RTT_MS * 0.9);
  });
});

describe('Handshaker over IPv6 (40 ms RTT, vde delay line)', () => {
  it('a raw SYN gets a SYN-ACK in one round trip; the handed-off AF_INET6 socket carries a GET', async () => {
    const target: Endpoint = { address: v6only.serverAddr6!, port: up6.port };
    await inClient(v6only, async () => {
      const hs = Handshaker.create({ targets: [target] });
      handshakers.push(hs);
      const entry = hs.open(target);
      expect(entry.local.address).toBe(v6only.clientAddr6);
      expect(entry.syn.mss).toBe(1500 - 60);
      const rttMs = await awaitEstablished(hs, entry, 3_000);
      expect(rttMs).toBeGreaterThan(RTT_MS * 0.9);
      expect(rttMs).toBeLessThan(RTT_MS * 1.9);
      expect(entry.synAck).toMatchObject({ mss: 1440, sackOk: true, tsOk: true });
      const start = performance.now();
      const socket = hs.handoff(entry);
      expect(socket.remoteAddress).toBe(target.address);
      expect(socket.remoteFamily).toBe('IPv6');
      const info = tcpInfo((socket as unknown as { _handle: { fd: number } })._handle.fd);
      // The peer's MSS less the 12 bytes of the timestamp option: not the 524 of an un-synced MSS.
      expect(info.sndMss).toBe(1440 - 12);
      const res = await exchange({ host: target.address, port: target.port, path: '/bytes/100000', socket, startedAt: start });
      expect(res.status).toBe(200);
      expect(res.bytes).toBe(100_000);
      // One round trip for the request, none for a handshake; the first
      // handoff of a process is cold (koffi, JIT), so compare medians of 3 more.
      const acc: number[] = [];
      const plain: number[] = [];
      for (let i = 0; i < 3; i++) {
        const e = hs.open(target);
        await awaitEstablished(hs, e, 3_000);
        const t0 = performance.now();
        acc.push((await exchange({ host: target.address, port: target.port, path: '/', socket: hs.handoff(e), startedAt: t0 })).ttfbMs);
        plain.push((await exchange({ host: target.address, port: target.port, path: '/' })).ttfbMs);
      }
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
      const timing = JSON.stringify({ acc, plain });
      expect(med(acc), timing).toBeLessThan(RTT_MS * 1.5);
      expect(med(plain), timing).toBeGreaterThan(RTT_MS * 1.8);
      expect(hs.stats).toMatchObject({ opened: 4, synAcks: 4, handedOff: 4, malformed: 0 });
    });
  });

  it('a closed port refuses with RST+ACK, seen through the IPv6 filter', async () => {
    const closed: Endpoint = { address: v6only.serverAddr6!, port: CLOSED_PORT };
    await inClient(v6only, async () => {
      const hs = Handshaker.create({ targets: [closed] });
      handshakers.push(hs);
      const entry = hs.open(closed);
      await expect(awaitEstablished(hs, entry, 3_000)).rejects.toMatchObject({ code: 'SYNPOOL_ERR_HANDSHAKE_REFUSED' });
      expect(hs.stats.refused).toBe(1);
    });
  });

  it("the kernel filter keeps the answers to plain IPv6 connects away from JavaScript", async () => {
    const target: Endpoint = { address: v6only.serverAddr6!, port: up6.port };
    await inClient(v6only, async () => {
      const hs = Handshaker.create({ targets: [target, { address: target.address, port: CLOSED_PORT }] });
      handshakers.push(hs);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new Promise<string>((resolve) => {
            const s = net.connect({ host: target.address, port: i % 2 === 0 ? target.port : CLOSED_PORT, timeout: 2_000 });
            s.once('connect', () => (s.destroy(), resolve('ok')));
            s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
          }),
        ),
      );
      expect(new Set(results)).toEqual(new Set(['ok', 'ECONNREFUSED']));
      hs.poll();
      expect(hs.channelStats.received, JSON.stringify({ stats: hs.stats, tag: hs.isnTag })).toBe(0);
      // Its own SYN's answer does get through.
      const entry = hs.open(target);
      await awaitEstablished(hs, entry, 3_000);
      expect(hs.channelStats.received).toBe(1);
      hs.release(entry);
    });
  });

  it('the kernel filter checks the source address and port: a same-tag answer from another target stays out', async () => {
    // A second server address on the same link, with a permanent neighbour entry as the topology makes for ::2.
    const other = v6only.serverAddr6!.replace(/::2$/, '::3');
    const serverIf = (await v6only.exec('server', 'ip', ['-o', '-6', 'addr', 'show', 'scope', 'global'])).stdout.split(/\s+/)[1]!;
    const clientIf = (await v6only.exec('client', 'ip', ['-o', '-6', 'addr', 'show', 'scope', 'global'])).stdout.split(/\s+/)[1]!;
    const mac = (JSON.parse((await v6only.exec('server', 'ip', ['-j', 'link', 'show', 'dev', serverIf])).stdout) as Array<{ address: string }>)[0]!.address;
    await v6only.exec('server', 'ip', ['-6', 'addr', 'add', `${other}/64`, 'dev', serverIf, 'nodad']);
    await v6only.exec('client', 'ip', ['-6', 'neigh', 'replace', other, 'lladdr', mac, 'dev', clientIf, 'nud', 'permanent']);
    const mine: Endpoint = { address: v6only.serverAddr6!, port: up6.port };
    const samePortElsewhere: Endpoint = { address: other, port: up6.port };
    const closedHere: Endpoint = { address: v6only.serverAddr6!, port: CLOSED_PORT };
    await inClient(v6only, async () => {
      const watcher = Handshaker.create({ targets: [mine] });
      const sender = Handshaker.create({ targets: [samePortElsewhere, closedHere], isnTag: watcher.isnTag });
      handshakers.push(watcher, sender);
      const a = sender.open(samePortElsewhere); // refused by ::3 (nothing listens there): RST+ACK from another address
      const b = sender.open(closedHere); // RST+ACK from our target's address, another port
      const outcomes = await Promise.allSettled([awaitEstablished(sender, a, 3_000), awaitEstablished(sender, b, 3_000)]);
      for (const o of outcomes) expect(o).toMatchObject({ status: 'rejected', reason: { code: 'SYNPOOL_ERR_HANDSHAKE_REFUSED' } });
      watcher.poll();
      // Same tag, same flags: only the source check can have kept them out of the watcher.
      expect(watcher.channelStats.received).toBe(0);
      expect(sender.channelStats.received).toBe(2);
    });
  });

  it('disallow(): live entries are released with RSTs (the server forgets them), open() is refused afterwards', async () => {
    const target: Endpoint = { address: v6only.serverAddr6!, port: up6.port };
    await inClient(v6only, async () => {
      const hs = Handshaker.create({ targets: [target] });
      handshakers.push(hs);
      const entries = [hs.open(target), hs.open(target), hs.open(target)];
      await Promise.all(entries.map((e) => awaitEstablished(hs, e, 3_000)));
      await waitUntil('3 entries in SYN_RECV', async () => (await synRecvCount(v6only, 'server', up6.port)) === 3, 3_000, 20);
      // Any spelling of the address names the same target.
      hs.disallow({ address: target.address.toUpperCase(), port: target.port });
      expect(entries.map((e) => e.state)).toEqual(['released', 'released', 'released']);
      expect(hs.liveEntries).toBe(0);
      expect(hs.stats.released).toBe(3);
      await waitUntil('no entry left in SYN_RECV', async () => (await synRecvCount(v6only, 'server', up6.port)) === 0, 3_000, 20);
      expect(() => hs.open(target)).toThrow(TargetNotAllowedError);
      hs.disallow(target); // idempotent
      // Allowed again, it works again.
      hs.allow(target);
      const again = hs.open(target);
      await awaitEstablished(hs, again, 3_000);
      hs.release(again);
    });
  });
});

describe('one Handshaker, both families (dual-stack namespaces)', () => {
  it('pre-handshakes and hands off to an IPv4 and an IPv6 target side by side; the IPv6 channel opens on allow()', async () => {
    const t4: Endpoint = { address: dual.serverAddr, port: upDual.port };
    const t6: Endpoint = { address: dual.serverAddr6!, port: upDual.port };
    await inClient(dual, async () => {
      const hs = Handshaker.create({ targets: [t4] });
      handshakers.push(hs);
      hs.allow(t6);
      const e4 = hs.open(t4);
      const e6 = hs.open(t6);
      await Promise.all([awaitEstablished(hs, e4, 3_000), awaitEstablished(hs, e6, 3_000)]);
      // The same local port number on both families must not confuse the entries.
      for (const [entry, target] of [[e4, t4], [e6, t6]] as const) {
        const socket = hs.handoff(entry);
        const res = await exchange({ host: target.address, port: target.port, path: '/' });
        const viaPool = await exchange({ host: target.address, port: target.port, path: '/', socket });
        expect(res.status).toBe(200);
        expect(viaPool.status).toBe(200);
      }
      expect(hs.stats).toMatchObject({ synAcks: 2, handedOff: 2, unmatched: 0 });
      hs.disallow(t4);
      expect(() => hs.open(t4)).toThrow(TargetNotAllowedError);
      const still6 = hs.open(t6);
      await awaitEstablished(hs, still6, 3_000);
      hs.release(still6);
    });
  });
});
