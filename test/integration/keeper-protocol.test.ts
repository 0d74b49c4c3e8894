// The keeper as a local service, end to end on a real kernel: a KeeperServer
// over a real PoolConnectionSource (raw SYNs, TCP_REPAIR) in the client
// namespace, a node:http upstream across a 40 ms round trip, and clients
// receiving the pooled sockets by SCM_RIGHTS: a raw one, the Python example,
// and an AcceleratedAgent over a KeeperConnectionSource.
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../bench/pool/wait-until.js';
import { startNodeUpstream } from '../../bench/upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { KeeperServer, type DeadEvent } from '../../src/keeper/keeper-server.js';
import { KeeperConnectionSource } from '../../src/keeper/keeper-source.js';
import { AcceleratedAgent, type ConnectionEvent, type FallbackEvent } from '../../src/proxy/accelerated-agent.js';
import { PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { exchange } from '../helpers/http-exchange.js';
import { startPoolBed, type PoolBed } from '../helpers/pool-bed.js';
import { assertIntegrationPrerequisites } from '../helpers/prerequisites.js';

const ONE_WAY_MS = 20;
const SIZE = 4;
const EXAMPLE = fileURLToPath(new URL('../../examples/accelerated-connect.py', import.meta.url));

let bed: PoolBed | undefined;
let source: PoolConnectionSource;
let target: Endpoint;
let dir: string | undefined;
let keeper: KeeperServer | undefined;
let client: KeeperConnectionSource | undefined;

beforeAll(async () => {
  assertIntegrationPrerequisites(['ss', 'python3']);
  dir = mkdtempSync(join(tmpdir(), 'synpool-keeper-it-'));
  bed = await startPoolBed({ oneWayDelayMs: ONE_WAY_MS, prefix: 'spkeep', pool: { sizing: 'fixed', targetSize: SIZE, maxSynAckRetransmits: 5 } });
  target = bed.target;
  source = new PoolConnectionSource(bed.hs, bed.pool);
  source.start();
  keeper = new KeeperServer({ path: join(dir, 'keeper.sock'), source });
  await keeper.listen();
  await waitUntil('the pool is full', () => bed!.pool.snapshot()[0]!.ready === SIZE, 10_000);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await keeper?.close();
  await bed?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const ready = (): Promise<number> => waitUntil('the pool refills', () => bed!.pool.snapshot()[0]!.ready === SIZE, 10_000);

async function started(path: string): Promise<KeeperConnectionSource> {
  const src = new KeeperConnectionSource({ path, reconnectMinMs: 20, reconnectMaxMs: 100 });
  const connected = once(src, 'connected');
  src.start();
  await connected;
  return src;
}

function acquire(src: KeeperConnectionSource): Promise<Socket | undefined> {
  return new Promise((resolve) => src.acquireAsync(target, resolve));
}

describe('the keeper serves pooled connections over its Unix socket', () => {
  it('the socket file has mode 0660', () => {
    expect(statSync(keeper!.path).mode & 0o777).toBe(0o660);
  });

  it('a received socket is still untouched on the server (SYN_RECV) until its first byte, then a GET gets 200', async () => {
    client = await started(keeper!.path);
    expect(client.accelerated).toBe(true);
    const socket = await acquire(client);
    expect(socket).toBeDefined();
    const local = socket!.localPort!;
    // The handoff and the keeper's close of its reference sent nothing: the server still holds the request socket.
    const { stdout } = await bed!.topo.exec('server', 'ss', ['-Htn', 'state', 'syn-recv', `dport = :${local}`]);
    expect(stdout.trim().split('\n').filter(Boolean)).toHaveLength(1);
    const res = await exchange({ host: target.address, port: target.port, path: '/', socket: socket! });
    expect(res.status).toBe(200);
    await ready();
  });

  it('the Python example gets a 200 through the same keeper', async () => {
    const { stdout } = await bed!.topo.exec('client', 'python3', [EXAMPLE, keeper!.path, target.address, String(target.port), '/'], { timeoutMs: 10_000 });
    expect(stdout.trim()).toBe('HTTP/1.1 200 OK');
    await ready();
  });

  it('an unknown target is refused with UNKNOWN_TARGET and a clear message (Python exits non-zero)', async () => {
    const r = await bed!.topo.exec('client', 'python3', [EXAMPLE, keeper!.path, target.address, String(target.port + 1), '/'], { allowFailure: true });
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`UNKNOWN_TARGET: ${target.address.replace(/\./g, '\\.')}:${target.port + 1} is not a configured upstream: this keeper serves only configured upstreams`));
  });

  it('an AcceleratedAgent over a KeeperConnectionSource: 200 on a connection from the pool', async () => {
    const agent = new AcceleratedAgent({ source: client! });
    const seen: ConnectionEvent[] = [];
    agent.events.on('connection', (e) => seen.push(e));
    const res = await agent.request({ origin: `http://${target.address}:${target.port}`, path: '/', method: 'GET' });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(seen.map((e) => e.connection)).toEqual(['pool']);
    await agent.close();
    await ready();
  });

  it('an entry reset on first use (upstream restarted) is replayed plainly and reported dead to the pool', async () => {
    const deadOnUse = bed!.pool.snapshot()[0]!.deadOnUse;
    const port = bed!.node.port;
    await bed!.node.stop();
    bed!.node = await startNodeUpstream(bed!.topo, { port });
    const dead = once(keeper!, 'dead') as Promise<[DeadEvent]>;
    const agent = new AcceleratedAgent({ source: client! });
    const retries: string[] = [];
    agent.events.on('retry', (e) => retries.push(e.reason));
    const res = await agent.request({ origin: `http://${target.address}:${target.port}`, path: '/', method: 'GET' });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    expect(retries).toEqual(['pooled-reset']);
    const [ev] = await dead;
    expect(ev.counted).toBe(true);
    expect(bed!.pool.snapshot()[0]!.deadOnUse).toBe(deadOnUse + 1);
    await agent.close();
    await ready();
  });

  it('keeper closed: acquireAsync answers undefined at once, requests go plain; a keeper back on the path is found again', async () => {
    const path = keeper!.path;
    const gone = once(client!, 'disconnected');
    await keeper!.close();
    await gone;
    const t0 = performance.now();
    expect(await acquire(client!)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(20);
    const agent = new AcceleratedAgent({ source: client! });
    const fallbacks: FallbackEvent[] = [];
    const seen: ConnectionEvent[] = [];
    agent.events.on('fallback', (e) => fallbacks.push(e));
    agent.events.on('connection', (e) => seen.push(e));
    const res = await agent.request({ origin: `http://${target.address}:${target.port}`, path: '/', method: 'GET' });
    expect(res.statusCode).toBe(200);
    await res.body.text();
    // Not accelerated while the keeper is away: plain connects without asking.
    expect(seen.map((e) => e.connection)).toEqual(['plain']);
    expect(fallbacks).toEqual([]);
    await agent.close();
    keeper = new KeeperServer({ path, source });
    const back = once(client!, 'connected');
    await keeper.listen();
    await back;
    const socket = await acquire(client!);
    expect(socket).toBeDefined();
    const res2 = await exchange({ host: target.address, port: target.port, path: '/', socket: socket! });
    expect(res2.status).toBe(200);
  });

  // Last: the pool may keep entries opened before the restart below (a dead report evicts only older ones).
  it('held connections (a worker’s stock) carry requests in their own turn; one reset on first use is replayed plainly and reported dead', async () => {
    const held = new KeeperConnectionSource({ path: keeper!.path, hold: 2, reconnectMinMs: 20, reconnectMaxMs: 100 });
    const connected = once(held, 'connected');
    held.start();
    await connected;
    const seen: ConnectionEvent[] = [];
    const retries: string[] = [];
    // A new agent each time: no keep-alive connection to reuse, so each request takes a new one.
    const get = async (): Promise<number> => {
      const agent = new AcceleratedAgent({ source: held });
      agent.events.on('connection', (e) => seen.push(e));
      agent.events.on('retry', (e) => retries.push(e.reason));
      try {
        const res = await agent.request({ origin: `http://${target.address}:${target.port}`, path: '/', method: 'GET' });
        await res.body.text();
        return res.statusCode;
      } finally {
        await agent.close();
      }
    };
    const stocked = (): number => {
      const st = held.stats();
      return st.heldReceived - st.heldDiscarded - st.heldUsed;
    };
    try {
      expect(await get()).toBe(200); // asked of the keeper; two held ones asked behind it
      await waitUntil('two held connections', () => stocked() >= 2, 5_000);
      expect(await get()).toBe(200);
      expect(held.stats().heldUsed).toBe(1);
      expect(seen.map((e) => e.connection)).toEqual(['pool', 'pool']);
      // The server forgets every half-open entry, the held ones too: the next take is reset on its first byte.
      await waitUntil('the stock refilled', () => stocked() >= 2, 5_000);
      const deadOnUse = bed!.pool.snapshot()[0]!.deadOnUse;
      const port = bed!.node.port;
      await bed!.node.stop();
      bed!.node = await startNodeUpstream(bed!.topo, { port });
      const dead = once(keeper!, 'dead') as Promise<[DeadEvent]>;
      expect(await get()).toBe(200);
      expect(held.stats().heldUsed).toBe(2);
      expect(retries).toEqual(['pooled-reset']);
      const [ev] = await dead;
      expect(ev.counted).toBe(true);
      expect(bed!.pool.snapshot()[0]!.deadOnUse).toBe(deadOnUse + 1);
    } finally {
      await held.close();
    }
    await ready();
  });
});
