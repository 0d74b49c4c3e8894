// KeeperServer and KeeperConnectionSource over a real Unix socket and real
// loopback TCP connections; the pool is a stand-in that hands out connected
// sockets (test/integration/keeper-protocol.test.ts uses the real pool).
import { once } from 'node:events';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PooledConnectionResetError } from '../../src/errors.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { KeeperServer, type KeeperSource } from '../../src/keeper/keeper-server.js';
import { KeeperConnectionSource } from '../../src/keeper/keeper-source.js';
import { LineReader } from '../../src/keeper/line-reader.js';
import { MSG_NOSIGNAL } from '../../native/constants.js';
import { sendWithFd } from '../../native/fd-passing.js';

let dir: string;
let upstream: net.Server;
let target: Endpoint;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'synpool-keeper-'));
  upstream = net.createServer((s) => {
    s.on('error', () => {});
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

/** A pool stand-in: `ready` connected sockets per target, entry ids counting up, dead reports recorded. */
class FakePool implements KeeperSource {
  accelerated = true;
  ready: Socket[] = [];
  dead: number[] = [];
  #entry = 100;
  readonly pool = {
    upstreams: [{ key: `127.0.0.1:${0}`, target: { address: '127.0.0.1', port: 0 } }],
    reportDead: (e: { id: number }): boolean => {
      this.dead.push(e.id);
      return true;
    },
  };
  constructor(t: Endpoint) {
    this.pool.upstreams = [{ key: `${t.address}:${t.port}`, target: t }];
  }
  async warm(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const s = net.connect(target.port, target.address);
      await once(s, 'connect');
      Object.assign(s, { entryId: this.#entry++ });
      this.ready.push(s);
    }
  }
  acquire(): Socket | undefined {
    return this.ready.shift();
  }
}

let seq = 0;
async function startKeeper(source: KeeperSource, extra: Partial<ConstructorParameters<typeof KeeperServer>[0]> = {}): Promise<KeeperServer> {
  const keeper = new KeeperServer({ path: join(dir, `k${seq++}.sock`), source, ...extra });
  await keeper.listen();
  cleanups.push(() => keeper.close());
  return keeper;
}

/** A raw client with Node's own socket (no fds needed): send lines, read reply lines. */
async function ask(path: string, lines: string[]): Promise<Record<string, unknown>[]> {
  const c = net.connect(path);
  await once(c, 'connect');
  const reader = new LineReader(1 << 20);
  const replies: Record<string, unknown>[] = [];
  c.write(lines.map((l) => `${l}\n`).join(''));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      c.destroy();
      resolve(replies);
    }, 200);
    c.on('data', (d) => {
      for (const l of reader.push(d)) replies.push(JSON.parse(l) as Record<string, unknown>);
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(replies);
    });
  });
}

async function sourceFor(keeper: KeeperServer, options: Partial<ConstructorParameters<typeof KeeperConnectionSource>[0]> = {}): Promise<KeeperConnectionSource> {
  const src = new KeeperConnectionSource({ path: keeper.path, ...options });
  cleanups.push(() => src.close());
  const ready = once(src, 'connected');
  src.start();
  await ready;
  return src;
}

function acquire(src: KeeperConnectionSource, t: Endpoint): Promise<Socket | undefined> {
  return new Promise((resolve) => src.acquireAsync(t, resolve));
}

describe('KeeperServer', () => {
  it('listens with mode 0660 by default, replaces a stale socket file, refuses a regular file', async () => {
    const pool = new FakePool(target);
    const stale = join(dir, 'stale.sock');
    const old = net.createServer();
    await new Promise<void>((r) => old.listen(stale, r));
    // A keeper that died leaves its file behind; close() without unlink mimics that.
    await new Promise<void>((r) => {
      (old as unknown as { _handle: { close(cb: () => void): void } })._handle.close(r);
    });
    const keeper = new KeeperServer({ path: stale, source: pool });
    await keeper.listen();
    cleanups.push(() => keeper.close());
    expect(statSync(stale).mode & 0o777).toBe(0o660);
    const regular = join(dir, 'regular');
    writeFileSync(regular, 'x');
    await expect(new KeeperServer({ path: regular, source: pool }).listen()).rejects.toThrow(/not a socket/);
    await expect(new KeeperServer({ path: stale, source: pool }).listen()).rejects.toThrow(/in use/);
  });

  it('hello, refusals with codes, and a line too long closes the connection', async () => {
    const pool = new FakePool(target);
    const keeper = await startKeeper(pool);
    const refused: string[] = [];
    keeper.on('refused', (e) => refused.push(e.code));
    const replies = await ask(keeper.path, [
      '{"v":1,"op":"hello","id":1}',
      '{"v":1,"op":"connect","id":2,"host":"10.9.9.9","port":80}',
      `{"v":1,"op":"connect","id":3,"host":"${target.address}","port":${target.port}}`,
      '{"v":1,"op":"connect","id":4,"host":"example.com","port":80}',
      '{"v":9,"op":"hello","id":5}',
      'nonsense',
    ]);
    expect(replies[0]).toEqual({ v: 1, id: 1, ok: true, op: 'hello', versions: [1], accelerated: true, targets: [`127.0.0.1:${target.port}`] });
    expect(replies[1]).toMatchObject({ id: 2, ok: false, code: 'UNKNOWN_TARGET' });
    expect(replies[1]!.message).toMatch(/10\.9\.9\.9:80 is not a configured upstream.*only configured upstreams/);
    expect(replies[2]).toMatchObject({ id: 3, ok: false, code: 'POOL_EMPTY' });
    expect(replies[3]).toMatchObject({ id: 4, ok: false, code: 'UNKNOWN_TARGET' });
    expect(replies[4]).toMatchObject({ id: 5, ok: false, code: 'UNSUPPORTED_VERSION' });
    expect(replies[5]).toMatchObject({ id: null, ok: false, code: 'BAD_REQUEST' });
    expect(refused).toEqual(['UNKNOWN_TARGET', 'POOL_EMPTY', 'UNKNOWN_TARGET', 'UNSUPPORTED_VERSION', 'BAD_REQUEST']);
    const long = await ask(keeper.path, ['x'.repeat(5000)]);
    expect(long).toEqual([expect.objectContaining({ code: 'BAD_REQUEST', message: expect.stringMatching(/longer than 4096/) as string })]);
    expect(keeper.stats().refused.BAD_REQUEST).toBe(2);
  });

  it('ACCEL_OFF when the source is not accelerated; targetsFor serves a name', async () => {
    const off = await startKeeper({ accelerated: false, disabledReason: 'missing CAP_NET_RAW', acquire: () => undefined }, { targetsFor: () => [target] });
    const [r] = await ask(off.path, ['{"v":1,"op":"connect","id":1,"host":"up.example","port":80}']);
    expect(r).toMatchObject({ code: 'ACCEL_OFF', message: expect.stringMatching(/missing CAP_NET_RAW/) as string });
    const pool = new FakePool(target);
    await pool.warm(1);
    const named = await startKeeper(pool, { targetsFor: (host, port) => (host === 'up.example' && port === 80 ? [target] : undefined) });
    const src = await sourceFor(named);
    const [ok] = await ask(named.path, ['{"v":1,"op":"connect","id":1,"host":"up.example","port":80}']);
    expect(ok).toMatchObject({ ok: true, fd: true, entry: 100, address: '127.0.0.1', port: target.port });
    expect(src.accelerated).toBe(true);
  });
});

describe('pause reports', () => {
  /** The fake pool, recording the keeper's pauseTarget calls as "key=paused". */
  function pausing(): FakePool & { calls: string[] } {
    const pool = Object.assign(new FakePool(target), { calls: [] as string[] });
    (pool as unknown as KeeperSource).pauseTarget = (t: Endpoint, paused: boolean) => void pool.calls.push(`${t.address}:${t.port}=${paused}`);
    return pool;
  }
  const key = (): string => `${target.address}:${target.port}`;
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

  it('pause while any client has the server out; a client that leaves takes its pause along', async () => {
    const pool = pausing();
    const keeper = await startKeeper(pool);
    const a = await sourceFor(keeper);
    const b = await sourceFor(keeper);
    a.pauseTarget(target, true);
    b.pauseTarget(target, true);
    await settle();
    a.pauseTarget(target, false);
    await settle();
    expect(pool.calls).toEqual([`${key()}=true`, `${key()}=true`, `${key()}=true`]);
    await b.close();
    await settle();
    expect(pool.calls.at(-1)).toBe(`${key()}=false`);
  });

  it('a worker says its pauses again to a new keeper; an unconfigured host is ignored', async () => {
    const first = pausing();
    const keeper = await startKeeper(first);
    const src = await sourceFor(keeper, { reconnectMinMs: 20, reconnectMaxMs: 50 });
    src.pauseTarget(target, true);
    src.pauseTarget({ address: '10.9.9.9', port: 80 }, true);
    await settle();
    expect(first.calls).toEqual([`${key()}=true`]);
    await keeper.close();
    const second = pausing();
    const again = new KeeperServer({ path: keeper.path, source: second });
    await again.listen();
    cleanups.push(() => again.close());
    await once(src, 'connected');
    await settle();
    expect(second.calls).toEqual([`${key()}=true`]);
  });
});

describe('KeeperConnectionSource', () => {
  it('receives a working socket; a reset on first use is reported dead for that entry only', async () => {
    const pool = new FakePool(target);
    await pool.warm(2);
    const keeper = await startKeeper(pool);
    const served: number[] = [];
    keeper.on('served', (e) => served.push(e.entry));
    const src = await sourceFor(keeper);
    expect(src.accelerated).toBe(true);
    const s = await acquire(src, target);
    expect(s).toBeDefined();
    s!.write('hi');
    const [reply] = (await once(s!, 'data')) as [Buffer];
    expect(reply.toString()).toBe('echo:hi');
    s!.destroy();
    expect(served).toEqual([100]);
    const s2 = await acquire(src, target);
    const dead = once(keeper, 'dead');
    s2!.on('error', () => {});
    s2!.destroy(new PooledConnectionResetError('127.0.0.1'));
    const [ev] = (await dead) as [{ entry: number; counted: boolean }];
    expect(ev).toMatchObject({ entry: 101, counted: true });
    expect(pool.dead).toEqual([101]);
    // Empty now: undefined, counted by code.
    expect(await acquire(src, target)).toBeUndefined();
    expect(src.stats().refused.POOL_EMPTY).toBe(1);
  });


  it('the threadpool receive (the fallback where the event-loop reader is missing) hands over a working socket too', async () => {
    const pool = new FakePool(target);
    await pool.warm(2);
    const keeper = await startKeeper(pool);
    const src = await sourceFor(keeper, { threadpoolReceive: true });
    for (let i = 0; i < 2; i++) {
      const socket = await acquire(src, target);
      expect(socket).toBeDefined();
      socket!.write('ping');
      const [reply] = (await once(socket!, 'data')) as [Buffer];
      expect(reply.toString()).toBe('echo:ping');
      socket!.destroy();
    }
    expect(await acquire(src, target)).toBeUndefined();
  });
  it('a dead report for an entry this connection was not handed is ignored', async () => {
    const pool = new FakePool(target);
    const keeper = await startKeeper(pool);
    const dead = once(keeper, 'dead');
    await ask(keeper.path, ['{"v":1,"op":"dead","entry":100}']);
    expect((await dead)[0]).toMatchObject({ entry: 100, target: undefined, counted: false });
    expect(pool.dead).toEqual([]);
  });

  it('keeper down: undefined at once; reconnects when a keeper is back; close() ends the loop', async () => {
    const path = join(dir, 'later.sock');
    const src = new KeeperConnectionSource({ path, reconnectMinMs: 20, reconnectMaxMs: 50 });
    cleanups.push(() => src.close());
    src.start();
    const t0 = performance.now();
    expect(await acquire(src, target)).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(20);
    expect(src.accelerated).toBe(false);
    const pool = new FakePool(target);
    await pool.warm(1);
    const keeper = new KeeperServer({ path, source: pool });
    const connected = once(src, 'connected');
    await keeper.listen();
    await connected;
    expect(src.accelerated).toBe(true);
    const s = await acquire(src, target);
    expect(s).toBeDefined();
    s!.destroy();
    const gone = once(src, 'disconnected');
    await keeper.close();
    await gone;
    expect(src.accelerated).toBe(false);
    expect(await acquire(src, target)).toBeUndefined();
    const back = new KeeperServer({ path, source: pool });
    const again = once(src, 'connected');
    await back.listen();
    cleanups.push(() => back.close());
    await again;
    expect(src.accelerated).toBe(true);
  });

  it('a keeper that does not answer: the request times out to undefined; a late fd is closed', async () => {
    const path = join(dir, 'mute.sock');
    let conn: Socket | undefined;
    const mute = net.createServer((c) => {
      conn = c;
      c.on('data', () => {
        // answer hello only
        if (conn !== undefined) conn.write('{"v":1,"ok":true,"op":"hello","versions":[1],"accelerated":true,"targets":[]}\n');
        conn = undefined;
      });
    });
    await new Promise<void>((r) => mute.listen(path, r));
    cleanups.push(() => new Promise((r) => mute.close(r)));
    const src = new KeeperConnectionSource({ path, requestTimeoutMs: 30 });
    cleanups.push(() => src.close());
    const ready = once(src, 'connected');
    src.start();
    await ready;
    const t0 = performance.now();
    expect(await acquire(src, target)).toBeUndefined();
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(200);
    expect(src.stats().timeouts).toBe(1);
  });

  it('requests asked at different times each time out at their own deadline (one timer for all of them)', async () => {
    const path = join(dir, 'mute2.sock');
    const mute = net.createServer((c) => {
      let helloSent = false;
      c.on('data', () => {
        if (helloSent) return; // every connect request goes unanswered
        helloSent = true;
        c.write('{"v":1,"ok":true,"op":"hello","versions":[1],"accelerated":true,"targets":[]}\n');
      });
    });
    await new Promise<void>((r) => mute.listen(path, r));
    cleanups.push(() => new Promise((r) => mute.close(r)));
    const src = new KeeperConnectionSource({ path, requestTimeoutMs: 60 });
    cleanups.push(() => src.close());
    const ready = once(src, 'connected');
    src.start();
    await ready;
    const t0 = performance.now();
    const settled: number[] = [];
    const first = acquire(src, target).then((s) => (settled.push(performance.now() - t0), s));
    await new Promise((r) => setTimeout(r, 40));
    const second = acquire(src, target).then((s) => (settled.push(performance.now() - t0), s));
    expect(await first).toBeUndefined();
    expect(await second).toBeUndefined();
    // The first at its 60 ms, the second at its own (40 + 60), not with the first.
    expect(settled[0]).toBeGreaterThanOrEqual(55);
    expect(settled[0]).toBeLessThan(95);
    expect(settled[1]).toBeGreaterThanOrEqual(95);
    expect(settled[1]).toBeLessThan(400);
    expect(src.stats().timeouts).toBe(2);
  });

  it('a reply with a descriptor after the timeout: the descriptor is aborted (the upstream sees a reset, nothing to read)', async () => {
    const path = join(dir, 'slow.sock');
    const upstreamClosed = new Promise<string>((resolve) => {
      const watch = net.createServer((s) => s.on('end', () => resolve('end')).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error')).resume());
      cleanups.push(() => new Promise((r) => watch.close(r)));
      watch.listen(0, '127.0.0.1', () => {
        const port = (watch.address() as net.AddressInfo).port;
        const slow = net.createServer((c) => {
          const reader = new LineReader(4096);
          c.on('data', (d) => {
            for (const l of reader.push(d)) {
              const req = JSON.parse(l) as { op: string; id: number };
              const cfd = (c as unknown as { _handle: { fd: number } })._handle.fd;
              if (req.op === 'hello') {
                sendWithFd(cfd, Buffer.from('{"v":1,"ok":true,"op":"hello","versions":[1],"accelerated":true,"targets":[]}\n'), undefined, MSG_NOSIGNAL);
                continue;
              }
              const up = net.connect(port, '127.0.0.1', () => {
                setTimeout(() => {
                  const line = `{"v":1,"id":${req.id},"ok":true,"fd":true,"entry":1,"address":"127.0.0.1","port":${port}}\n`;
                  sendWithFd(cfd, Buffer.from(line), (up as unknown as { _handle: { fd: number } })._handle.fd, MSG_NOSIGNAL);
                  up.destroy(); // the keeper's copy goes; the client's is the last
                }, 60);
              });
            }
          });
        });
        slow.listen(path, () => undefined);
        cleanups.push(() => new Promise((r) => slow.close(r)));
      });
    });
    await new Promise((r) => setTimeout(r, 20));
    const src = new KeeperConnectionSource({ path, requestTimeoutMs: 20 });
    cleanups.push(() => src.close());
    const ready = once(src, 'connected');
    src.start();
    await ready;
    const late = once(src, 'late');
    expect(await acquire(src, target)).toBeUndefined();
    await late;
    expect(await upstreamClosed).toBe('ECONNRESET');
    expect(src.stats()).toMatchObject({ timeouts: 1, late: 1, served: 0 });
  });

  it('a reply already in is read between two requests of one turn, not after the next poll phase', async () => {
    const path = join(dir, 'drain.sock');
    let cfd = -1;
    const requests: number[] = [];
    let onRequest: (() => void) | undefined;
    const keeper = net.createServer((c) => {
      cfd = (c as unknown as { _handle: { fd: number } })._handle.fd;
      const reader = new LineReader(4096);
      c.on('data', (d) => {
        for (const l of reader.push(d)) {
          const req = JSON.parse(l) as { op: string; id: number };
          if (req.op === 'hello') sendWithFd(cfd, Buffer.from('{"v":1,"ok":true,"op":"hello","versions":[1],"accelerated":true,"targets":[]}\n'), undefined, MSG_NOSIGNAL);
          else requests.push(req.id);
          onRequest?.();
        }
      });
    });
    await new Promise<void>((r) => keeper.listen(path, r));
    cleanups.push(() => new Promise((r) => keeper.close(r)));
    const up = net.connect(target.port, target.address);
    await once(up, 'connect');
    cleanups.push(() => up.destroy());
    const src = new KeeperConnectionSource({ path, requestTimeoutMs: 5_000 });
    cleanups.push(() => src.close());
    const ready = once(src, 'connected');
    src.start();
    await ready;

    let first: Socket | undefined | null = null;
    const firstAsked = new Promise<void>((r) => (onRequest = r));
    src.acquireAsync(target, (s) => (first = s));
    await firstAsked;
    onRequest = undefined;
    // One macrotask: the keeper's reply to the first request lands, then the worker asks again.
    const seenAfterSecond = await new Promise<Socket | undefined | null>((resolve) => {
      const line = `{"v":1,"id":${requests[0]},"ok":true,"fd":true,"entry":7,"address":"${target.address}","port":${target.port}}\n`;
      sendWithFd(cfd, Buffer.from(line), (up as unknown as { _handle: { fd: number } })._handle.fd, MSG_NOSIGNAL);
      src.acquireAsync(target, () => undefined);
      // Queued after the drain's tick: libuv has not polled since the reply landed.
      process.nextTick(() => resolve(first));
    });
    expect(seenAfterSecond).toBeInstanceOf(net.Socket);
    (seenAfterSecond as Socket).destroy();
  });
});

/** FakePool that counts what is ready and records miss reports, as PoolConnectionSource does. */
class CountingPool extends FakePool {
  readonly misses: Array<{ target: Endpoint; count: number }> = [];
  readyCount(): number {
    return this.ready.length;
  }
  noteMisses(t: Endpoint, count: number): void {
    this.misses.push({ target: t, count });
  }
}

async function until(cond: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A raw watching client that keeps every line it receives. */
async function watcher(path: string): Promise<{ lines: Record<string, unknown>[]; send(line: string): void }> {
  const c = net.connect(path);
  await once(c, 'connect');
  cleanups.push(() => c.destroy());
  const reader = new LineReader(1 << 20);
  const lines: Record<string, unknown>[] = [];
  c.on('data', (d) => {
    for (const l of reader.push(d)) lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  return { lines, send: (line) => c.write(`${line}\n`) };
}

describe('ready counts', () => {
  it('a watching client is told the count at hello, after each answer, and when it rises above what it was told; a miss report reaches the pool', async () => {
    const pool = new CountingPool(target);
    await pool.warm(2);
    const keeper = await startKeeper(pool);
    const key = `127.0.0.1:${target.port}`;
    const w = await watcher(keeper.path);
    w.send('{"v":1,"op":"hello","watch":true}');
    await until(() => w.lines.length >= 3);
    expect(w.lines[2]).toEqual({ v: 1, op: 'ready', targets: { [key]: 2 } });
    for (let id = 1; id <= 3; id++) w.send(`{"v":1,"op":"connect","id":${id},"host":"127.0.0.1","port":${target.port}}`);
    await until(() => w.lines.length >= 6);
    expect(w.lines.slice(3)).toEqual([
      expect.objectContaining({ id: 1, ok: true, ready: 1 }),
      expect.objectContaining({ id: 2, ok: true, ready: 0 }),
      expect.objectContaining({ id: 3, ok: false, code: 'POOL_EMPTY', ready: 0 }),
    ]);
    // A rise is told once; the same count again is not.
    await pool.warm(1);
    keeper.readyChanged();
    await until(() => w.lines.length >= 7);
    expect(w.lines[6]).toEqual({ v: 1, op: 'ready', targets: { [key]: 1 } });
    keeper.readyChanged();
    w.send('{"v":1,"op":"miss","host":"127.0.0.1","port":' + target.port + ',"count":3}');
    w.send('{"v":1,"op":"miss","host":"10.9.9.9","port":80,"count":2}');
    await until(() => keeper.stats().missed === 3);
    await new Promise((r) => setTimeout(r, 30));
    expect(w.lines).toHaveLength(7);
    expect(pool.misses).toEqual([{ target, count: 3 }]);
    // A client that did not ask to watch gets the counts in its answers only.
    const plain = await ask(keeper.path, ['{"v":1,"op":"hello"}', `{"v":1,"op":"connect","id":9,"host":"127.0.0.1","port":${target.port}}`]);
    expect(plain.map((r) => r.op ?? r.ready)).toEqual(['hello', 0]);
  });

  it('a worker asks only for what the keeper counted: the rest of a burst goes plain at once, reported as one miss line', async () => {
    const pool = new CountingPool(target);
    await pool.warm(2);
    const keeper = await startKeeper(pool);
    const src = await sourceFor(keeper, { requestTimeoutMs: 2_000 });
    await until(() => src.readyLeft(target) === 2);
    const order: string[] = [];
    const got: Array<Socket | undefined> = [];
    await new Promise<void>((resolve) => {
      for (let i = 0; i < 5; i++) {
        src.acquireAsync(target, (s) => {
          order.push(s === undefined ? 'plain' : 'pooled');
          got.push(s);
          if (got.length === 5) resolve();
        });
      }
      expect(src.readyLeft(target)).toBe(0);
    });
    for (const s of got) s?.destroy();
    // The three beyond the count did not wait for the keeper's answers to the two before them.
    expect(order).toEqual(['plain', 'plain', 'plain', 'pooled', 'pooled']);
    expect(src.stats()).toMatchObject({ requests: 5, served: 2, skipped: 3 });
    expect(src.stats().refused).toEqual({});
    await until(() => pool.misses.length === 1);
    expect(pool.misses).toEqual([{ target, count: 3 }]);
    // The pool refills: told, and the next request asks again.
    await pool.warm(1);
    keeper.readyChanged();
    await until(() => src.readyLeft(target) === 1);
    const next = await acquire(src, target);
    expect(next).toBeInstanceOf(net.Socket);
    next!.destroy();
  });

  it('a keeper that does not count (no ready in its answers): every request asks, as before', async () => {
    const pool = new FakePool(target);
    await pool.warm(1);
    const keeper = await startKeeper(pool);
    const src = await sourceFor(keeper, { requestTimeoutMs: 2_000 });
    const got = await Promise.all([acquire(src, target), acquire(src, target), acquire(src, target)]);
    expect(got.filter((s) => s !== undefined)).toHaveLength(1);
    for (const s of got) s?.destroy();
    expect(src.readyLeft(target)).toBeUndefined();
    expect(src.stats()).toMatchObject({ requests: 3, skipped: 0, refused: { POOL_EMPTY: 2 } });
  });
});
