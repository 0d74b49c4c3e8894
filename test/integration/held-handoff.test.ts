// A held handoff across a real delay line: a socket ESTABLISHED on our side
// whose filter drops every segment with SYN set. The server's entry must stay
// in SYN_RECV while it waits (its SYN-ACK retransmits go unanswered), the socket
// must serve a request with the filter still on (it stays for the connection's
// life), and a discarded one must leave nothing on the server. The control case
// (no filter) shows what the filter prevents.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTopology, enterNamespace, type Topology } from '../../bench/topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../../bench/upstream/index.js';
import { SO_ATTACH_FILTER, SOL_SOCKET } from '../../native/constants.js';
import { closeFd, getBufferOption } from '../../native/socket-ops.js';
import { awaitEstablished } from '../../src/handshake/await-established.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { dropSynProgram } from '../../src/handshake/bpf-programs.js';
import { discardHeldSocket, discardWrappedHeldSocket, openWrappedHeldSocket, wrapHeldSocket } from '../../src/handshake/held-socket.js';
import { RepairedSocket } from '../../src/handshake/repaired-socket.js';
import { filterMode, loadFilterPrograms, useClassicFilters, useFilterPrograms, type FilterProgramFds } from '../../src/handshake/socket-filters.js';
import { exchange } from '../helpers/http-exchange.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 10;
const RTT_MS = 2 * ONE_WAY_MS;
/** The server's first SYN-ACK retransmit comes about 1 s after its SYN-ACK. */
const PAST_FIRST_RETRANSMIT_MS = 1_600;

let topo: Topology;
let leave: (() => void) | undefined;
let node: UpstreamServer;
let hs: Handshaker;
let target: Endpoint;
/** The eBPF filters, loaded once (root may): the tests switch between them and the classic ones. */
let programs: FilterProgramFds;

beforeAll(async () => {
  assertIntegrationPrerequisites([]);
  topo = await createTopology({ oneWayDelayMs: ONE_WAY_MS, link: 'vde', prefix: 'sphold' });
  node = await startNodeUpstream(topo);
  target = { address: topo.serverAddr, port: node.port };
  leave = enterNamespace(topo.netnsPath('client'));
  hs = Handshaker.create({ targets: [target] });
  const loaded = loadFilterPrograms();
  if (typeof loaded === 'string') throw new Error(`eBPF socket filters could not be loaded as root: ${loaded}`);
  programs = loaded;
  useFilterPrograms(programs);
}, 60_000);

afterEach(() => useFilterPrograms(programs));

afterAll(async () => {
  for (const fd of Object.values(programs ?? {})) closeFd(fd);
  hs?.close();
  leave?.();
  await node?.stop();
  await topo?.destroy();
});

/** The server's TCP state for the connection from our `port`: 'SYN-RECV', 'ESTAB', … or undefined (none). */
async function serverState(port: number): Promise<string | undefined> {
  const { stdout } = await topo.exec('server', 'ss', ['-Htan', `dport = :${port}`]);
  return stdout.trim().split('\n').filter(Boolean)[0]?.split(/\s+/)[0];
}

/**
 * The length of the socket's filter in instructions, 0 without one (SO_GET_FILTER given no room
 * answers the count), or 'ebpf' for an eBPF program attached by fd.
 */
function filterLength(fd: number): number | 'ebpf' {
  try {
    return getBufferOption(fd, SOL_SOCKET, SO_ATTACH_FILTER, Buffer.alloc(0), 'getsockopt(SO_GET_FILTER)');
  } catch (err) {
    // A program attached by fd (SO_ATTACH_BPF) has no classic form to read back: the kernel says EACCES.
    if ((err as { errnoCode?: string }).errnoCode === 'EACCES') return 'ebpf';
    throw err;
  }
}

async function established() {
  const entry = hs.open(target);
  await awaitEstablished(hs, entry, 3 * RTT_MS + 1000);
  return entry;
}

describe('held handoff', () => {
  it('control: an unheld socket left waiting answers the SYN-ACK retransmit, and the server accepts an idle connection', async () => {
    const entry = await established();
    const fd = hs.handoffFd(entry);
    try {
      expect(await serverState(entry.local.port)).toBe('SYN-RECV');
      await new Promise((r) => setTimeout(r, PAST_FIRST_RETRANSMIT_MS));
      expect(await serverState(entry.local.port)).toBe('ESTAB');
    } finally {
      closeFd(fd);
    }
  });

  it.each(['ebpf', 'classic'] as const)('a reservation (%s drop-all filter): the server\'s SYN-ACK gets no RST from us, its entry stays in SYN_RECV', async (mode) => {
    if (mode === 'classic') useClassicFilters('test');
    expect(filterMode().mode).toBe(mode);
    const entry = await established();
    try {
      await new Promise((r) => setTimeout(r, 3 * RTT_MS + 50));
      expect(await serverState(entry.local.port)).toBe('SYN-RECV');
    } finally {
      hs.release(entry);
    }
  });

  it.each(['ebpf', 'classic'] as const)("a held socket (%s drop-SYN filter) leaves the server's entry in SYN_RECV across a SYN-ACK retransmit, then serves a request with its filter still on", async (mode) => {
    if (mode === 'classic') useClassicFilters('test');
    expect(filterMode().mode).toBe(mode);
    const entry = await established();
    const fd = hs.handoffFd(entry, true);
    const attached = mode === 'classic' ? dropSynProgram().length : 'ebpf';
    expect(filterLength(fd)).toBe(attached);
    await new Promise((r) => setTimeout(r, PAST_FIRST_RETRANSMIT_MS));
    expect(await serverState(entry.local.port)).toBe('SYN-RECV');
    const socket = new RepairedSocket(fd, target, entry.id);
    const res = await exchange({ host: target.address, port: target.port, path: '/bytes/100000', socket });
    expect(res.status).toBe(200);
    expect(res.bytes).toBe(100_000);
    // Every byte of the response came through the filter, which is still there.
    expect(filterLength(fd)).toBe(attached);
    socket.destroy();
  }, 20_000);

  it('a held socket wrapped ahead of use (reading) still tells the server nothing, then serves a request once taken', async () => {
    const entry = await established();
    const fd = hs.handoffFd(entry, true);
    const socket = wrapHeldSocket(fd, target, entry.id);
    await new Promise((r) => setTimeout(r, PAST_FIRST_RETRANSMIT_MS));
    expect(await serverState(entry.local.port)).toBe('SYN-RECV');
    expect(socket.bytesRead).toBe(0);
    openWrappedHeldSocket(socket);
    const res = await exchange({ host: target.address, port: target.port, path: '/bytes/100000', socket });
    expect(res.status).toBe(200);
    expect(res.bytes).toBe(100_000);
  }, 20_000);

  it('a wrapped held socket given up resets the server\'s entry: nothing reaches its application', async () => {
    const entry = await established();
    const fd = hs.handoffFd(entry, true);
    const socket = wrapHeldSocket(fd, target, entry.id);
    expect(await serverState(entry.local.port)).toBe('SYN-RECV');
    discardWrappedHeldSocket(socket);
    await new Promise((r) => setTimeout(r, 3 * ONE_WAY_MS + 50));
    expect(await serverState(entry.local.port)).toBeUndefined();
    await new Promise((r) => setTimeout(r, PAST_FIRST_RETRANSMIT_MS));
    expect(await serverState(entry.local.port)).toBeUndefined();
    // A second discard of the same socket touches no descriptor (its number may be reused by now).
    expect(() => discardWrappedHeldSocket(socket)).not.toThrow();
  }, 20_000);

  it('a discarded held socket resets the server\'s entry: nothing reaches its application', async () => {
    const entry = await established();
    const fd = hs.handoffFd(entry, true);
    expect(await serverState(entry.local.port)).toBe('SYN-RECV');
    discardHeldSocket(fd);
    await new Promise((r) => setTimeout(r, 3 * ONE_WAY_MS + 50));
    expect(await serverState(entry.local.port)).toBeUndefined();
    // And after the server's retransmit time, still nothing (no ESTAB, no TIME-WAIT from an accepted connection).
    await new Promise((r) => setTimeout(r, PAST_FIRST_RETRANSMIT_MS));
    expect(await serverState(entry.local.port)).toBeUndefined();
  }, 20_000);
});
