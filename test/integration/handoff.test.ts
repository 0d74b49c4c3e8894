// The handoff across a real 100 ms round trip (vde2 delay line between two
// namespaces): correctness against node:http and Python's http.server, the
// saved round trip, a forgotten entry, and an entry that waits 10 s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, startPythonUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { SynpoolError } from '../../src/errors.js';
import { awaitEstablished } from '../../src/handshake/await-established.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { exchange } from '../helpers/http-exchange.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 50;
const RTT_MS = 2 * ONE_WAY_MS;

let topo: Topology;
let leave: (() => void) | undefined;
let node: UpstreamServer;
let python: UpstreamServer;
let hs: Handshaker;
let nodeTarget: Endpoint;
let pythonTarget: Endpoint;

beforeAll(async () => {
  assertIntegrationPrerequisites(['python3']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'sph' });
  node = await startNodeUpstream(topo);
  python = await startPythonUpstream(topo, { port: 8000 });
  nodeTarget = { address: topo.serverAddr, port: node.port };
  pythonTarget = { address: topo.serverAddr, port: python.port };
  // Everything this file opens from here on (raw socket, reservations,
  // repaired and plain sockets) lives in the client namespace.
  leave = enterNamespace(topo.netnsPath('client'));
  hs = Handshaker.create({ targets: [nodeTarget, pythonTarget] });
}, 60_000);

afterAll(async () => {
  hs?.close();
  leave?.();
  await node?.stop();
  await python?.stop();
  await topo?.destroy();
});

async function established(target: Endpoint) {
  const entry = hs.open(target);
  const rttMs = await awaitEstablished(hs, entry, 3 * RTT_MS + 1000);
  return { entry, rttMs };
}

async function outRsts(): Promise<number> {
  const { stdout } = await topo.exec('client', 'cat', ['/proc/net/snmp']);
  const lines = stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = (lines[0] ?? '').split(/\s+/);
  const values = (lines[1] ?? '').split(/\s+/);
  return Number(values[names.indexOf('OutRsts')]);
}

describe('handoff across a 100 ms round trip', () => {
  it('a GET over a handed-off socket returns the full response from node:http', async () => {
    const { entry, rttMs } = await established(nodeTarget);
    expect(rttMs).toBeGreaterThan(RTT_MS * 0.9);
    const socket = hs.handoff(entry);
    const res = await exchange({ host: nodeTarget.address, port: nodeTarget.port, path: '/bytes/200000', socket });
    expect(res.status).toBe(200);
    expect(res.bytes).toBe(200_000);
  });

  it("a GET over a handed-off socket returns the full response from Python's http.server", async () => {
    const { entry } = await established(pythonTarget);
    const socket = hs.handoff(entry);
    const res = await exchange({ host: pythonTarget.address, port: pythonTarget.port, path: '/', socket });
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('synpool');
  });

  it('handoff → first response byte takes < 1.5 RTT; plain connect + GET takes ≥ 1.8 RTT', async () => {
    const accelerated: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { entry } = await established(nodeTarget);
      const t0 = performance.now();
      const socket = hs.handoff(entry);
      accelerated.push((await exchange({ host: nodeTarget.address, port: nodeTarget.port, path: '/', socket, startedAt: t0 })).ttfbMs);
      plain.push((await exchange({ host: nodeTarget.address, port: nodeTarget.port, path: '/' })).ttfbMs);
    }
    for (const ms of accelerated) expect(ms).toBeLessThan(1.5 * RTT_MS);
    for (const ms of plain) expect(ms).toBeGreaterThanOrEqual(1.8 * RTT_MS);
  });

  it('an entry the server has forgotten (server restarted) fails fast with a typed, retriable error', async () => {
    const { entry } = await established(nodeTarget);
    const port = node.port;
    await node.stop();
    node = await startNodeUpstream(topo, { port });
    const t0 = performance.now();
    const socket = hs.handoff(entry);
    const err = await exchange({ host: nodeTarget.address, port, path: '/', socket }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = performance.now() - t0;
    expect(err).toBeInstanceOf(SynpoolError);
    expect((err as SynpoolError).code).toBe('SYNPOOL_ERR_POOLED_RESET');
    expect((err as SynpoolError).retriable).toBe(true);
    // One round trip for our request and the RST; allow scheduling slack, far below any retransmit timer.
    expect(elapsed).toBeLessThan(2 * RTT_MS);
    // A fresh connection to the restarted server works.
    const again = await established(nodeTarget);
    const ok = await exchange({ host: nodeTarget.address, port, path: '/', socket: hs.handoff(again.entry) });
    expect(ok.status).toBe(200);
  });

  it('while an entry waits 10 s no RST leaves our host, the server keeps retransmitting its SYN-ACK, and the entry still works', async () => {
    const before = await outRsts();
    const { entry } = await established(nodeTarget);
    await new Promise((r) => setTimeout(r, 10_000));
    // SYN-ACK retransmits come at about 1, 3 and 7 s after the first.
    expect(entry.synAckCount).toBeGreaterThanOrEqual(4);
    expect(await outRsts()).toBe(before);
    const res = await exchange({ host: nodeTarget.address, port: nodeTarget.port, path: '/', socket: hs.handoff(entry) });
    expect(res.status).toBe(200);
  }, 30_000);

  it('releasing an entry sends the server a RST so it frees the request socket', async () => {
    const { entry } = await established(nodeTarget);
    const synRecv = async () => (await topo.exec('server', 'ss', ['-Htn', 'state', 'syn-recv'])).stdout.trim().split('\n').filter(Boolean).length;
    expect(await synRecv()).toBeGreaterThanOrEqual(1);
    hs.release(entry);
    await new Promise((r) => setTimeout(r, ONE_WAY_MS * 3));
    expect(await synRecv()).toBe(0);
  });
});
