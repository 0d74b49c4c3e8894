// The keeper's IPC handoff, timed from the worker's side: acquireAsync() called
// → the pooled socket received (SCM_RIGHTS) and wrapped as a net.Socket. The
// keeper is a separate process, as in production; the upstream is a loopback
// listener in a third process (in the keeper's own, accepting and closing every
// handed-off connection ran on the keeper's event loop, inside the measured
// window: not the keeper's work). Two keepers:
//   stock — entries established before each burst, outside the timed window (the
//           in-process 'hot' variant's conditions): the IPC handoff itself;
//   pool  — a real PoolManager (PoolConnectionSource) that refills while the
//           burst runs: what a request meets when the keeper's loop also refills.
// Beside them, the floor: an echo between the same two processes over a Unix socket.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { awaitEstablished } from '../../src/handshake/await-established.js';
import { endpointKey, type Endpoint } from '../../src/handshake/endpoint.js';
import type { HalfOpen } from '../../src/handshake/half-open.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { KeeperServer, type KeeperSource } from '../../src/keeper/keeper-server.js';
import { KeeperConnectionSource } from '../../src/keeper/keeper-source.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { quantile } from '../../src/util/stats.js';

export const KEEPER_CHILD_FLAG = '--keeper-child';
export const UPSTREAM_CHILD_FLAG = '--upstream-child';
export type KeeperMode = 'stock' | 'pool';
/** Ready entries the pool keeps: more than a burst takes. */
const POOL_SIZE = 32;
/** Requests per burst, back to back. */
const BURST = 16;
/** The pause between bursts, ms: entries are made ready, both loops go idle. */
const IDLE_MS = 30;

type ChildMessage = { ready: true; target: Endpoint } | { refilled: number } | { servedUs: number[]; acquireUs: number[] };
type ParentMessage = { report: true } | { refill: number };

/** The upstream: `node run.js --upstream-child`, a listener that closes what it accepts; says its port, exits with the parent. */
export async function runUpstreamChild(): Promise<void> {
  const server = net.createServer((s) => s.on('error', () => {}).destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, r));
  process.send!({ port: (server.address() as net.AddressInfo).port });
  process.once('disconnect', () => process.exit(0));
}

/** The keeper process: `node run.js --keeper-child PATH MODE PORT`. Exits when the parent goes. */
export async function runKeeperChild(path: string, mode: KeeperMode, upstreamPort: number): Promise<void> {
  const target = { address: '127.0.0.1', port: upstreamPort };
  const hs = Handshaker.create({ targets: [target] });
  const acquireUs: number[] = [];
  let source: KeeperSource;
  let close: () => void;
  let refill: (n: number) => Promise<number>;
  if (mode === 'pool') {
    const pool = new PoolManager({
      driver: hs,
      upstreams: [{ target, sizing: 'fixed', targetSize: POOL_SIZE, maxSize: POOL_SIZE, synRatePerSec: 4000, synBurst: POOL_SIZE, maxOpensPerTick: POOL_SIZE }],
    });
    const pooled = new PoolConnectionSource(hs, pool);
    pooled.on('handoff', (e) => acquireUs.push(e.us));
    pooled.start();
    source = pooled;
    close = () => pooled.close();
    refill = async () => {
      while (pool.snapshot()[0]!.ready < POOL_SIZE) await new Promise((r) => setTimeout(r, 5));
      return POOL_SIZE;
    };
  } else {
    const stock: HalfOpen[] = [];
    source = {
      accelerated: true,
      acquire: () => undefined,
      acquireFd: () => {
        const t0 = performance.now();
        const e = stock.shift();
        if (e === undefined) return undefined;
        const fd = hs.handoffFd(e);
        acquireUs.push((performance.now() - t0) * 1000);
        return { fd, entry: { id: e.id, target: e.target } };
      },
      pool: { upstreams: [{ key: endpointKey(target), target }], reportDead: () => false },
    };
    close = () => hs.close();
    refill = async (n) => {
      const entries = Array.from({ length: n }, () => hs.open(target));
      const settled = await Promise.allSettled(entries.map((e) => awaitEstablished(hs, e, 1000)));
      entries.forEach((e, i) => (settled[i]!.status === 'fulfilled' ? stock.push(e) : hs.release(e)));
      return stock.length;
    };
  }
  const keeper = new KeeperServer({ path, source });
  // The floor: a plain echo between the same two processes over a Unix socket (libuv on both sides).
  const echo = net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => {}));
  await new Promise<void>((r) => echo.listen(`${path}.echo`, r));
  const servedUs: number[] = [];
  keeper.on('served', (e) => servedUs.push(e.us));
  await keeper.listen();
  await refill(BURST);
  process.send!({ ready: true, target } satisfies ChildMessage);
  process.on('message', (m: ParentMessage) => {
    if ('report' in m) process.send!({ servedUs, acquireUs } satisfies ChildMessage);
    else void refill(m.refill).then((n) => process.send!({ refilled: n } satisfies ChildMessage));
  });
  process.once('disconnect', () => {
    void keeper.close().then(() => {
      echo.close();
      close();
      process.exit(0);
    });
  });
}

export interface IpcHandoffResult {
  /** acquireAsync → socket in hand, in the worker process, back to back within a burst: µs. */
  readonly roundTrip: number[];
  /** The same for a burst's first request, after IDLE_MS of idleness (both loops asleep): µs. */
  readonly afterIdle: number[];
  /** In the keeper: request line parsed → sendmsg returned (take + repair + send), every recorded request: µs. */
  readonly keeperSide: number[];
  /** Of which the repair handoff (pool take + TCP_REPAIR steps): µs. */
  readonly acquire: number[];
  /** The floor on this machine: a 64-byte echo between the same two processes over a Unix socket, libuv on both sides: µs. */
  readonly echo: number[];
  /** Requests answered POOL_EMPTY (not timed). */
  readonly empty: number;
}

interface KeeperRig {
  /** The keeper's socket path (its echo listener is `${path}.echo`). */
  readonly path: string;
  readonly target: Endpoint;
  /** A message to the keeper process and its answer. */
  ask(m: ParentMessage): Promise<ChildMessage>;
  /** A worker's source connected to it (closed with the rig). */
  connect(options?: { hold?: number }): Promise<KeeperConnectionSource>;
}

/** An upstream process and a keeper process of `mode` for `fn`; both stopped, and their directory removed, after it. */
async function withKeeperProcess<T>(script: string, mode: KeeperMode, fn: (rig: KeeperRig) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'synpool-bench-keeper-'));
  const path = join(dir, 'keeper.sock');
  let child: ChildProcess | undefined;
  let upstream: ChildProcess | undefined;
  let src: KeeperConnectionSource | undefined;
  try {
    upstream = fork(script, [UPSTREAM_CHILD_FLAG], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [{ port }] = (await once(upstream, 'message')) as [{ port: number }];
    const keeper = fork(script, [KEEPER_CHILD_FLAG, path, mode, String(port)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child = keeper;
    const [first] = (await once(keeper, 'message')) as [ChildMessage];
    if (!('ready' in first)) throw new Error('the keeper process did not start');
    return await fn({
      path,
      target: first.target,
      ask: async (m) => {
        const reply = once(keeper, 'message') as Promise<[ChildMessage]>;
        keeper.send(m);
        return (await reply)[0];
      },
      connect: async (options) => {
        // A generous timeout: this measures the handoff, not the fallback.
        src = new KeeperConnectionSource({ path, requestTimeoutMs: 1_000, ...options });
        const connected = once(src, 'connected');
        src.start();
        await connected;
        return src;
      },
    });
  } finally {
    await src?.close();
    for (const c of [child, upstream]) {
      if (c !== undefined && c.connected) {
        const exited = once(c, 'exit');
        c.disconnect();
        await exited;
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

function acquireOne(src: KeeperConnectionSource, target: Endpoint): Promise<Socket | undefined> {
  return new Promise((resolve) => src.acquireAsync(target, resolve));
}

/** Starts a keeper process of `mode`, takes `warmup` + `count` sockets through it in bursts. */
export async function measureIpcHandoff(script: string, mode: KeeperMode, count: number, warmup: number, deadlineMs: number): Promise<IpcHandoffResult> {
  return withKeeperProcess(script, mode, async ({ path, target, ask, connect }) => {
    const src = await connect();
    const roundTrip: number[] = [];
    const afterIdle: number[] = [];
    let empty = 0;
    let taken = 0;
    let burst = 0;
    const deadline = performance.now() + deadlineMs;
    while (roundTrip.length < count && performance.now() < deadline) {
      if (burst++ > 0) await ask({ refill: BURST });
      await new Promise((r) => setTimeout(r, IDLE_MS));
      for (let j = 0; j < BURST && roundTrip.length < count; j++) {
        const t0 = performance.now();
        const socket = await acquireOne(src, target);
        const us = (performance.now() - t0) * 1000;
        if (socket === undefined) {
          empty++;
          break;
        }
        socket.destroy();
        if (taken++ >= warmup) (j === 0 ? afterIdle : roundTrip).push(us);
      }
    }
    const echo = await measureEcho(`${path}.echo`, count, warmup);
    const report = await ask({ report: true });
    // The keeper's own timings of the recorded requests (all but the warm-up).
    const recorded = roundTrip.length + afterIdle.length;
    const keeperSide = 'servedUs' in report ? report.servedUs.slice(-recorded) : [];
    const acquire = 'acquireUs' in report ? report.acquireUs.slice(-recorded) : [];
    return { roundTrip, afterIdle, keeperSide, acquire, echo, empty };
  });
}

/**
 * A held connection taken from the worker's stock (KeeperConnectionSource `hold`, the
 * default path for a worker since heldPerWorker): acquireAsync → socket in hand, with no
 * message to the keeper on the way (the stock is refilled behind it). Before each round
 * the stock is full; then `hold` requests back to back: µs.
 */
export async function measureHeldHandoff(script: string, count: number, hold: number, deadlineMs: number): Promise<number[]> {
  return withKeeperProcess(script, 'pool', async ({ target, connect }) => {
    const src = await connect({ hold });
    const inStock = (): number => {
      const st = src.stats();
      return st.heldReceived - st.heldUsed - st.heldDiscarded;
    };
    const out: number[] = [];
    const deadline = performance.now() + deadlineMs;
    // The first request asks (an empty stock), and the stock fills behind it.
    (await acquireOne(src, target))?.destroy();
    while (out.length < count && performance.now() < deadline) {
      while (inStock() < hold && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const before = src.stats().heldUsed;
      for (let j = 0; j < hold && out.length < count; j++) {
        const t0 = performance.now();
        const socket = await acquireOne(src, target);
        const us = (performance.now() - t0) * 1000;
        socket?.destroy();
        if (src.stats().heldUsed === before + j + 1) out.push(us);
      }
    }
    return out;
  });
}

/** Echo round trips, back to back in bursts like the handoffs (a burst's first one not recorded). */
async function measureEcho(path: string, count: number, warmup: number): Promise<number[]> {
  const c = net.connect(path);
  await once(c, 'connect');
  const payload = Buffer.alloc(64, 0x61);
  const out: number[] = [];
  for (let i = 0; out.length < count; i++) {
    if (i % BURST === 0) await new Promise((r) => setTimeout(r, IDLE_MS));
    const t0 = performance.now();
    c.write(payload);
    let got = 0;
    while (got < payload.length) got += ((await once(c, 'data')) as [Buffer])[0].length;
    if (i >= warmup && i % BURST !== 0) out.push((performance.now() - t0) * 1000);
  }
  c.destroy();
  return out;
}

export function summarize(xs: number[]): { n: number; p50Us: number; p99Us: number; maxUs: number } {
  const r = (x: number): number => Math.round(x * 10) / 10;
  if (xs.length === 0) return { n: 0, p50Us: NaN, p99Us: NaN, maxUs: NaN };
  return { n: xs.length, p50Us: r(quantile(xs, 0.5)), p99Us: r(quantile(xs, 0.99)), maxUs: r(Math.max(...xs)) };
}
