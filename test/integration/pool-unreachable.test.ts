// Upstreams that do not answer get a bounded number of SYNs: one whose host
// answers every SYN with a RST (nothing listens on the port) and one whose
// SYNs are silently dropped (an address in the server's subnet that no host
// owns; a static neighbour entry sends its frames to the server namespace,
// which drops packets not addressed to it). The SYNs are counted on the wire,
// by tcpdump in the server namespace, and checked against the bound the
// backoff settings imply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSynCapture, type CapturedSyn } from '../../bench/pool/syn-capture.js';
import { sleep } from '../../bench/pool/wait-until.js';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import type { ResolvedPoolConfig } from '../../src/pool/pool-config.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 15;
const WINDOW_MS = 20_000;

let topo: Topology;
let leave: (() => void) | undefined;
let hs: Handshaker | undefined;
let pool: PoolManager | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites(['tcpdump']);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'spdown' });
}, 60_000);

afterAll(async () => {
  pool?.close();
  hs?.close();
  leave?.();
  await topo?.destroy();
});

/**
 * The most SYNs a pool can send to a dead upstream within `windowMs` of its
 * start: its first fill (`initial` SYNs at once), then one attempt after each
 * backoff delay at its shortest (no jitter, failures detected at once), then
 * one probe per probe interval.
 */
function maxSynsWithin(windowMs: number, c: ResolvedPoolConfig, initial: number): number {
  let syns = initial;
  let failures = initial;
  let probeMs = c.probeIntervalMs;
  let t = 0;
  for (let i = 0; i < 10_000; i++) {
    let delay: number;
    if (failures >= c.unreachableAfterFailures) {
      delay = probeMs;
      probeMs = Math.min(c.probeIntervalMaxMs, probeMs * 2);
    } else {
      delay = Math.min(c.backoffMaxMs, c.backoffBaseMs * 2 ** (failures - 1));
    }
    t += delay;
    if (t > windowMs) break;
    syns += 1;
    failures += 1;
  }
  return syns;
}

/** The server's MAC and the client's interface, from the permanent neighbour entry createTopology made. */
async function serverNeighbour(): Promise<{ lladdr: string; dev: string }> {
  const { stdout } = await topo.exec('client', 'ip', ['-j', 'neigh', 'show', topo.serverAddr]);
  const [n] = JSON.parse(stdout) as Array<{ lladdr?: string; dev?: string }>;
  if (!n?.lladdr || !n.dev) throw new Error(`no neighbour entry for ${topo.serverAddr} in the client namespace: ${stdout}`);
  return { lladdr: n.lladdr, dev: n.dev };
}

describe('SYNs to an upstream that refuses or drops them', () => {
  it(`stay within the backoff bound over ${WINDOW_MS / 1000} s, and the upstream becomes unreachable`, async () => {
    // Port 9 on the server: nothing listens, its kernel answers each SYN with a RST.
    const refused: Endpoint = { address: topo.serverAddr, port: 9 };
    // .3 in the server's /24: no host has it.
    const ghostAddr = topo.serverAddr.replace(/\.\d+$/, '.3');
    const dropped: Endpoint = { address: ghostAddr, port: 80 };
    const { lladdr, dev } = await serverNeighbour();
    await topo.exec('client', 'ip', ['neigh', 'replace', ghostAddr, 'lladdr', lladdr, 'dev', dev, 'nud', 'permanent']);

    const capture = await startSynCapture(topo, 'server', [topo.serverAddr, ghostAddr]);
    let syns: CapturedSyn[] = [];
    const states: Record<string, string[]> = {};
    try {
      leave = enterNamespace(topo.netnsPath('client'));
      hs = Handshaker.create({ targets: [refused, dropped] });
      pool = new PoolManager({ driver: hs, upstreams: [{ target: refused }, { target: dropped }] });
      pool.on('upstream-state', (e) => (states[e.upstream] ??= []).push(e.to));
      pool.start();
      await sleep(WINDOW_MS);
      pool.close();
    } finally {
      syns = await capture.stop();
    }
    const [snapRefused, snapDropped] = pool.snapshot();
    const configs = pool.upstreams;
    // Both pools start by filling to burstEntries (2) at once.
    const initial = configs[0]!.burstEntries;
    const bound = maxSynsWithin(WINDOW_MS + 1_000, configs[0]!, initial);
    expect(bound).toBe(6); // 2 at once, then after 1, 2 and 4 s of backoff, then one probe after 5 s

    const onWire = (e: Endpoint): number => syns.filter((s) => s.dst === `${e.address}.${e.port}`).length;
    const report = JSON.stringify({ refused: snapRefused, dropped: snapDropped, states, syns });

    // Refused: every attempt fails within one RTT.
    expect(snapRefused!.state, report).toBe('unreachable');
    expect(states[snapRefused!.upstream]).toEqual(['backoff', 'unreachable']);
    expect(snapRefused!.failures.refused, report).toBe(snapRefused!.synsSent);
    expect(snapRefused!.synsSent).toBeGreaterThanOrEqual(configs[0]!.unreachableAfterFailures);
    expect(snapRefused!.synsSent).toBeLessThanOrEqual(bound);
    expect(onWire(refused), report).toBe(snapRefused!.synsSent);

    // Dropped: every attempt waits synAckTimeoutMs (2 s) first, so fewer fit.
    expect(snapDropped!.state, report).toBe('unreachable');
    expect(states[snapDropped!.upstream]).toEqual(['backoff', 'unreachable']);
    expect(snapDropped!.failures.timeouts, report).toBe(snapDropped!.synsSent);
    expect(snapDropped!.synsSent).toBeGreaterThanOrEqual(configs[1]!.unreachableAfterFailures);
    expect(snapDropped!.synsSent).toBeLessThanOrEqual(bound);
    expect(onWire(dropped), report).toBe(snapDropped!.synsSent);

    // Nothing else was opened, and the driver agrees with the wire.
    expect(hs!.stats.opened).toBe(syns.length);
    expect(snapRefused!.ready + snapDropped!.ready + snapRefused!.hits + snapDropped!.hits).toBe(0);
  }, 45_000);
});
