// The keeper's IPC handoff, timed from the worker's side: acquireAsync() called
// → the pooled socket received (SCM_RIGHTS) and wrapped as a net.Socket. The
// keeper is a separate process, as in production: a real PoolManager over a
// Handshaker to a loopback listener of its own, serving a KeeperServer.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import { KeeperServer } from '../../src/keeper/keeper-server.js';
import { KeeperConnectionSource } from '../../src/keeper/keeper-source.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { PoolConnectionSource } from '../../src/proxy/pool-source.js';
import { quantile } from '../../src/util/stats.js';

export const KEEPER_CHILD_FLAG = '--keeper-child';
/** Ready entries the keeper keeps: more than the client takes between two refills. */
const POOL_SIZE = 32;
/** Requests per burst: fewer than the pool holds, so a burst never meets an empty pool. */
const BURST = 16;
/** The pause between bursts, ms: the pool refills (loopback round trips) and both loops go idle. */
const IDLE_MS = 30;

type ChildMessage = { ready: true; target: Endpoint } | { servedUs: number[]; acquireUs: number[] };

/** The keeper process: `node run.js --keeper-child PATH`. Exits when the parent goes. */
export async function runKeeperChild(path: string): Promise<void> {
  const server = net.createServer((s) => s.on('error', () => {}).destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, r));
  const target = { address: '127.0.0.1', port: (server.address() as net.AddressInfo).port };
  const hs = Handshaker.create({ targets: [target] });
  const pool = new PoolManager({
    driver: hs,
    upstreams: [{ target, sizing: 'fixed', targetSize: POOL_SIZE, maxSize: POOL_SIZE, synRatePerSec: 4000, synBurst: POOL_SIZE, maxOpensPerTick: POOL_SIZE }],
  });
  const source = new PoolConnectionSource(hs, pool);
  const keeper = new KeeperServer({ path, source });
  const servedUs: number[] = [];
  const acquireUs: number[] = [];
  keeper.on('served', (e) => servedUs.push(e.us));
  source.on('handoff', (e) => acquireUs.push(e.us));
  source.start();
  await keeper.listen();
  while (pool.snapshot()[0]!.ready < POOL_SIZE) await new Promise((r) => setTimeout(r, 10));
  process.send!({ ready: true, target } satisfies ChildMessage);
  process.on('message', (m: { report?: boolean }) => {
    if (m.report) process.send!({ servedUs, acquireUs } satisfies ChildMessage);
  });
  process.once('disconnect', () => {
    void keeper.close().then(() => {
      source.close();
      server.close();
      process.exit(0);
    });
  });
}

export interface IpcHandoffResult {
  /** acquireAsync → socket in hand, in the worker process, back to back (warm): µs. */
  readonly roundTrip: number[];
  /** The same for the first request after IDLE_MS of idleness (both processes' loops asleep): µs. */
  readonly afterIdle: number[];
  /** In the keeper: request line parsed → sendmsg returned (pool take + repair + send): µs. */
  readonly keeperSide: number[];
  /** Of which the pool's acquire (take + repair handoff + net.Socket): µs. */
  readonly poolAcquire: number[];
  /** Requests answered POOL_EMPTY (the pool was refilling), retried and not timed. */
  readonly empty: number;
}

/** Starts the keeper process, takes `warmup` + `count` sockets through it one at a time. */
export async function measureIpcHandoff(script: string, count: number, warmup: number, deadlineMs: number): Promise<IpcHandoffResult> {
  const dir = mkdtempSync(join(tmpdir(), 'synpool-bench-keeper-'));
  const path = join(dir, 'keeper.sock');
  let child: ChildProcess | undefined;
  let src: KeeperConnectionSource | undefined;
  try {
    child = fork(script, [KEEPER_CHILD_FLAG, path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [first] = (await once(child, 'message')) as [ChildMessage];
    if (!('ready' in first)) throw new Error('the keeper process did not start');
    const target = first.target;
    // A generous timeout: this measures the handoff, not the fallback.
    src = new KeeperConnectionSource({ path, requestTimeoutMs: 1_000 });
    const connected = once(src, 'connected');
    src.start();
    await connected;
    const roundTrip: number[] = [];
    const afterIdle: number[] = [];
    let empty = 0;
    let taken = 0;
    const deadline = performance.now() + deadlineMs;
    // Bursts of BURST requests back to back (warm: the keeper's and our loops are busy),
    // then a pause that lets the pool refill; a burst's first request meets idle loops.
    while (roundTrip.length < count && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, IDLE_MS));
      for (let j = 0; j < BURST && roundTrip.length < count; j++) {
        const t0 = performance.now();
        const socket = await new Promise<Socket | undefined>((resolve) => src!.acquireAsync(target, resolve));
        const us = (performance.now() - t0) * 1000;
        if (socket === undefined) {
          empty++;
          break;
        }
        socket.destroy();
        if (taken++ >= warmup) (j === 0 ? afterIdle : roundTrip).push(us);
      }
    }
    child.send({ report: true });
    const [report] = (await once(child, 'message')) as [ChildMessage];
    // The keeper's own timings of the recorded requests (all but the warm-up), warm and after idle together.
    const recorded = roundTrip.length + afterIdle.length;
    const keeperSide = 'servedUs' in report ? report.servedUs.slice(-recorded) : [];
    const poolAcquire = 'acquireUs' in report ? report.acquireUs.slice(-recorded) : [];
    return { roundTrip, afterIdle, keeperSide, poolAcquire, empty };
  } finally {
    await src?.close();
    if (child !== undefined && child.connected) {
      const exited = once(child, 'exit');
      child.disconnect();
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export function summarize(xs: number[]): { n: number; p50Us: number; p99Us: number; maxUs: number } {
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { n: xs.length, p50Us: r(quantile(xs, 0.5)), p99Us: r(quantile(xs, 0.99)), maxUs: r(Math.max(...xs)) };
}
