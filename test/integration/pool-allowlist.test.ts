// Only configured upstreams ever get a SYN. A second server listens next to
// the configured one (it would answer a SYN), and acquire() is asked for it,
// and for an address nobody configured, many times: tcpdump in the server
// namespace sees SYNs only to the configured port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSynCapture } from '../../bench/pool/syn-capture.js';
import { sleep, waitUntil } from '../../bench/pool/wait-until.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 10;

let topo: Topology;
let leave: (() => void) | undefined;
let configured: UpstreamServer;
let other: UpstreamServer;
let hs: Handshaker | undefined;
let pool: PoolManager | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites(['tcpdump']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spallow' });
  configured = await startNodeUpstream(topo);
  other = await startNodeUpstream(topo);
}, 60_000);

afterAll(async () => {
  pool?.close();
  hs?.close();
  leave?.();
  await configured?.stop();
  await other?.stop();
  await topo?.destroy();
});

describe('the allowlist', () => {
  it('acquire() for an unconfigured endpoint returns undefined and sends it no SYN', async () => {
    const target: Endpoint = { address: topo.serverAddr, port: configured.port };
    const strangers: Endpoint[] = [
      { address: topo.serverAddr, port: other.port },
      { address: topo.clientAddr, port: configured.port },
    ];
    const capture = await startSynCapture(topo, 'server', [topo.serverAddr]);
    const misses: string[] = [];
    let syns;
    try {
      leave = enterNamespace(topo.netnsPath('client'));
      hs = Handshaker.create({ targets: [target] });
      pool = new PoolManager({ driver: hs, upstreams: [{ target, sizing: 'fixed', targetSize: 4 }] });
      pool.on('miss', (e) => misses.push(`${e.upstream} ${e.reason}`));
      pool.start();
      await waitUntil('pool ready', () => pool!.snapshot()[0]!.ready === 4, 5_000);
      for (let i = 0; i < 50; i++) {
        for (const s of strangers) expect(pool.acquire(s)).toBeUndefined();
        expect(pool.take(strangers[0]!)).toBeUndefined();
        expect(pool.reportDead({ id: 1, target: strangers[0]! })).toBe(false);
        await sleep(10);
      }
      // The driver refuses too: the second line of defence.
      expect(() => hs!.open(strangers[0]!)).toThrow(expect.objectContaining({ code: 'SYNPOOL_ERR_TARGET_NOT_ALLOWED' }));
      await sleep(500);
      pool.close();
    } finally {
      syns = await capture.stop();
    }
    expect(misses).toHaveLength(150);
    expect(new Set(misses)).toEqual(new Set(strangers.map((s) => `${s.address}:${s.port} unknown-upstream`)));
    const snap = pool.snapshot();
    expect(snap).toHaveLength(1);
    expect(snap[0]!.misses).toBe(0);
    expect(syns.map((s) => s.dst)).toEqual(new Array(snap[0]!.synsSent).fill(`${target.address}.${target.port}`));
    expect(hs.stats.opened).toBe(snap[0]!.synsSent);
  });
});
