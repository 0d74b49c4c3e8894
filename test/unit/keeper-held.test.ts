// Held connections between a real KeeperServer and a worker's KeeperConnectionSource,
// over a real Unix socket, with loopback TCP connections that carry the same SYN-dropping
// filter a held handoff has (test/integration/held-handoff.test.ts checks what the
// filter does for a server across a real delay line).
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AF_INET, SOCK_CLOEXEC, SOCK_STREAM } from '../../native/constants.js';
import { closeFd, connectIp, openSocket } from '../../native/socket-ops.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { holdSocket } from '../../src/handshake/held-socket.js';
import { KeeperServer, type KeeperSource } from '../../src/keeper/keeper-server.js';
import { KeeperConnectionSource } from '../../src/keeper/keeper-source.js';
import { LineReader } from '../../src/keeper/line-reader.js';
import { MSG_NOSIGNAL } from '../../native/constants.js';
import { sendWithFd } from '../../native/fd-passing.js';

let dir: string;
let upstream: net.Server;
let target: Endpoint;
/** How each connection the upstream accepted ended: 'end' (FIN), 'reset' (RST), or open. */
const ends: Array<'open' | 'end' | 'reset'> = [];
/** The upstream's side of each connection it accepted, in order. */
const accepted: net.Socket[] = [];
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synpool-held-'));
  upstream = net.createServer((s) => {
    const i = ends.push('open') - 1;
    accepted.push(s);
    s.on('error', (err: NodeJS.ErrnoException) => (ends[i] = err.code === 'ECONNRESET' ? 'reset' : ends[i]!));
    s.on('end', () => (ends[i] = 'end'));
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  target = { address: '127.0.0.1', port: (upstream.address() as net.AddressInfo).port };
});
afterAll(() => {
  upstream.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A pool stand-in handing out fresh loopback connections: held ones (filtered) when asked, counting each kind of call. */
class HoldingPool implements KeeperSource {
  accelerated = true;
  plainCalls = 0;
  heldCalls = 0;
  holdMs = 5_000;
  readonly pool: NonNullable<KeeperSource['pool']>;
  #entry = 1;
  constructor(t: Endpoint, readonly canHold = true) {
    this.pool = { upstreams: [{ key: `${t.address}:${t.port}`, target: t }], reportDead: () => true };
    if (!canHold) this.acquireHeldFd = undefined;
  }
  acquire(): undefined {
    return undefined;
  }
  acquireFd(t: Endpoint): { fd: number; entry: { id: number; target: Endpoint } } {
    this.plainCalls += 1;
    return { fd: connected(t), entry: { id: this.#entry++, target: t } };
  }
  acquireHeldFd: KeeperSource['acquireHeldFd'] = (t: Endpoint) => {
    this.heldCalls += 1;
    const fd = connected(t);
    holdSocket(fd);
    return { fd, entry: { id: this.#entry++, target: t }, holdMs: this.holdMs };
  };
}

function connected(t: Endpoint): number {
  const fd = openSocket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  try {
    connectIp(fd, t.address, t.port); // blocking: loopback completes at once
  } catch (err) {
    closeFd(fd);
    throw err;
  }
  return fd;
}

let seq = 0;
async function start(pool: HoldingPool, hold: number, extra: Partial<ConstructorParameters<typeof KeeperConnectionSource>[0]> = {}) {
  const keeper = new KeeperServer({ path: join(dir, `h${seq++}.sock`), source: pool });
  await keeper.listen();
  cleanups.push(() => keeper.close());
  const src = new KeeperConnectionSource({ path: keeper.path, hold, ...extra });
  cleanups.push(() => src.close());
  const ready = once(src, 'connected');
  src.start();
  await ready;
  return src;
}

function acquire(src: KeeperConnectionSource): Promise<net.Socket | undefined> {
  return new Promise((resolve) => src.acquireAsync(target, resolve));
}

async function until(cond: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function roundTrip(socket: net.Socket, text: string): Promise<string> {
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return data.toString();
}

describe('held connections in a worker', () => {
  it.each([
    ['on the event loop (descriptors as libuv handles)', false],
    ['on the threadpool (bare descriptors)', true],
  ])('a request after the first takes a held connection with no request to the keeper, its answer let in: %s', async (_, threadpoolReceive) => {
    const pool = new HoldingPool(target);
    const src = await start(pool, 2, { threadpoolReceive });
    const first = await acquire(src); // stock empty: asked, and two held ones asked for behind it
    expect(first).toBeDefined();
    first!.destroy();
    await until(() => src.stats().heldReceived === 2);
    expect(pool.plainCalls).toBe(1);
    const second = await acquire(src);
    expect(second).toBeDefined();
    // No request of its own: the keeper saw only the top-up that replaces it.
    expect(pool.plainCalls).toBe(1);
    expect(src.stats()).toMatchObject({ heldUsed: 1, served: 2 });
    // The filter (still on) lets the upstream's answer in.
    expect(await roundTrip(second!, 'hi')).toBe('echo:hi');
    second!.destroy();
    await until(() => pool.heldCalls === 3);
  });

  it('acquire() takes a held connection in the caller’s turn, counted as acquireAsync counts it; with none it asks nothing', async () => {
    const pool = new HoldingPool(target);
    const src = await start(pool, 2);
    // Stock empty: nothing to take, and nothing is asked of the keeper (acquireAsync does that).
    expect(src.acquire(target)).toBeUndefined();
    await new Promise((r) => setTimeout(r, 20));
    expect(pool.plainCalls + pool.heldCalls).toBe(0);
    expect(src.stats()).toMatchObject({ requests: 0, served: 0 });
    (await acquire(src))!.destroy(); // fills the stock behind it
    await until(() => src.stats().heldReceived === 2);
    const used: Endpoint[] = [];
    src.on('held', (e) => {
      if (e.outcome === 'used') used.push(e.target);
    });
    const held = src.acquire(target);
    expect(held).toBeDefined();
    expect(src.stats()).toMatchObject({ requests: 2, served: 2, heldUsed: 1 });
    // Its event comes after the caller's turn (the request is written first), once.
    expect(used).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(used).toEqual([target]);
    expect(await roundTrip(held!, 'sync')).toBe('echo:sync');
    held!.destroy();
    // Replaced as after an asynchronous take.
    await until(() => pool.heldCalls === 3);
  });

  it('a held connection the upstream resets while it waits is never handed out: the filter lets the RST in', async () => {
    const pool = new HoldingPool(target);
    const src = await start(pool, 1);
    const before = accepted.length;
    (await acquire(src))!.destroy(); // asked; one held connection asked for behind it
    await until(() => src.stats().heldReceived === 1 && accepted.length === before + 2);
    accepted.at(-1)!.resetAndDestroy();
    await new Promise((r) => setTimeout(r, 100)); // loopback: the RST is in well before
    expect(src.acquire(target)).toBeUndefined();
    expect(src.stats()).toMatchObject({ heldUsed: 0, heldDiscarded: 1 });
    // (A repaired socket's reset, nothing of ours acknowledged, is also reported dead to the keeper:
    // these loopback sockets had their SYN acknowledged, so theirs is a plain ECONNRESET.)
  });

  it('a held connection past its time is given up with a RST and never used', async () => {
    const pool = new HoldingPool(target);
    pool.holdMs = 80; // 60 ms usable after the 20 ms margin
    const before = ends.length;
    const src = await start(pool, 1, { holdDemandMs: 40 }); // long enough for the first top-up, shorter than its 60 ms
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived === 1);
    await until(() => src.stats().heldDiscarded === 1);
    // With no demand left, it is not replaced.
    await new Promise((r) => setTimeout(r, 150));
    expect(pool.heldCalls).toBe(1);
    // The upstream saw the held one end with a RST (the first, used and destroyed, may end either way).
    await until(() => ends.slice(before).includes('reset'));
    const again = await acquire(src);
    expect(src.stats().heldUsed).toBe(0);
    again?.destroy();
  });

  it('a keeper that cannot hold: its unheld answer is aborted, and no more holds are asked', async () => {
    const pool = new HoldingPool(target, false);
    const src = await start(pool, 2);
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived + pool.plainCalls >= 2);
    await new Promise((r) => setTimeout(r, 50));
    const calls = pool.plainCalls;
    (await acquire(src))?.destroy();
    await new Promise((r) => setTimeout(r, 50));
    // The second request asked for itself only.
    expect(pool.plainCalls).toBe(calls + 1);
    expect(src.stats().heldUsed).toBe(0);
  });

  it('close() gives up what is held', async () => {
    const pool = new HoldingPool(target);
    const src = await start(pool, 2);
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived === 2);
    await src.close();
    expect(src.stats().heldDiscarded).toBe(2);
  });

  it('an address the worker stops routing to: what is held for it is given up with RSTs at once, and nothing more is kept for it', async () => {
    const pool = new HoldingPool(target);
    pool.holdMs = 10_000;
    const before = ends.length;
    const src = await start(pool, 2);
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived === 2);
    const other = { address: '127.0.0.2', port: target.port };
    // A reload that keeps the address leaves its stock alone.
    src.syncTargets(new Map([[`${target.address}:${target.port}`, { target }]]), true);
    expect(src.stats().heldDiscarded).toBe(0);
    // One that routes elsewhere gives it up now, not when its 10 s run out.
    src.syncTargets(new Map([[`${other.address}:${other.port}`, { target: other }]]), true);
    expect(src.stats().heldDiscarded).toBe(2);
    expect(src.acquire(target)).toBeUndefined();
    await until(() => ends.slice(before).filter((e) => e === 'reset').length >= 2);
    // A request still in flight for it asks for itself, and no replacement is kept.
    (await acquire(src))?.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(pool.heldCalls).toBe(2);
    // Back in the configuration: held again behind its next request.
    src.addTarget(target);
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived === 4);
  });

  it('a held connection that arrives after its address was removed is given up on arrival', async () => {
    const pool = new HoldingPool(target);
    const src = await start(pool, 2);
    // The keeper runs in this process: the address leaves while it hands the first one over.
    const hand = pool.acquireHeldFd!;
    pool.acquireHeldFd = (t) => {
      src.removeTarget(target);
      return hand(t);
    };
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived === 2);
    expect(src.stats().heldDiscarded).toBe(2);
    expect(src.acquire(target)).toBeUndefined();
  });

  it('no held connection is asked for while a request waits on its own ask (a burst): only after its answer', async () => {
    // A keeper that answers a request's ask after 80 ms and a hold at once, logging when each arrived.
    const path = join(dir, `slow-ask-${seq++}.sock`);
    const log: { op: string; at: number }[] = [];
    const t0 = performance.now();
    const fake = net.createServer((c) => {
      const reader = new LineReader(4096);
      const cfd = (c as unknown as { _handle: { fd: number } })._handle.fd;
      c.on('data', (d) => {
        for (const l of reader.push(d)) {
          const req = JSON.parse(l) as { op: string; id: number; hold?: boolean };
          if (req.op === 'hello') {
            sendWithFd(cfd, Buffer.from('{"v":1,"ok":true,"op":"hello","versions":[1],"accelerated":true,"targets":[]}\n'), undefined, MSG_NOSIGNAL);
            continue;
          }
          log.push({ op: req.hold ? 'hold' : 'ask', at: performance.now() - t0 });
          const answer = (): void => {
            const fd = connected(target);
            if (req.hold) holdSocket(fd);
            const extra = req.hold ? ',"held":true,"holdMs":5000' : '';
            sendWithFd(cfd, Buffer.from(`{"v":1,"id":${req.id},"ok":true,"fd":true,"entry":${req.id},"address":"127.0.0.1","port":${target.port}${extra}}\n`), fd, MSG_NOSIGNAL);
            closeFd(fd);
            if (!req.hold) log.push({ op: 'answered', at: performance.now() - t0 });
          };
          if (req.hold) answer();
          else setTimeout(answer, 80);
        }
      });
      c.on('error', () => {});
    });
    await new Promise<void>((r) => fake.listen(path, r));
    cleanups.push(() => new Promise((r) => fake.close(r)));
    const src = new KeeperConnectionSource({ path, hold: 2, requestTimeoutMs: 1_000 });
    cleanups.push(() => src.close());
    const ready = once(src, 'connected');
    src.start();
    await ready;
    (await acquire(src))?.destroy();
    await until(() => src.stats().heldReceived === 2);
    const answered = log.find((e) => e.op === 'answered')!.at;
    const holds = log.filter((e) => e.op === 'hold');
    expect(holds).toHaveLength(2);
    for (const h of holds) expect(h.at).toBeGreaterThanOrEqual(answered);
  });
});
