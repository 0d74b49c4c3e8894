// The contenders, each its own process in the client namespace, listening on
// its loopback: synpool (dist/src/cli.js), synpool --no-accel, the minimal
// node:http + undici proxy (bench/proxy/plain-proxy.ts), nginx as a reverse
// proxy, the floor (a bare node:http server, no upstream), and two *warm*
// contenders: synpool --no-accel and the minimal proxy in front of a second,
// keep-alive upstream, their connections opened by the unrecorded warm-up and
// kept for minutes, so every recorded request finds one open. They are the
// floor of a pooled request: everything a Node proxy does for it except making
// (or being handed) a connection. Two *local* contenders, the same two proxies in
// front of an upstream on their own loopback that closes every connection: a new
// connection per request whose handshake costs nothing on the network (tens of
// µs), so what is left is what making a new connection costs a Node proxy: the
// floor of a pooled request's new connection (idle and tight modes only). And
// the relay floor: bytes relayed over an upstream connection already open, no
// HTTP parsed (bench/own-time/relay-floor.ts), the least any Node proxy does;
// and the lean HTTP floor: node:http in front, the upstream exchange written by
// hand over connections already open (bench/own-time/lean-proxy.ts), the least a
// Node proxy that parses HTTP on both sides does.
// synpool and nginx are started by bench/harness/proxy-process.ts, as in
// `npm run bench`.
// The caller's thread must be in the client namespace (readiness checks).
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { DEFAULTS } from '../../src/config/defaults.js';
import { processCpuMs, processRunMs, processSystemCpuMs, processTreeRunMsByProcess } from '../harness/proc-cpu.js';
import { NGINX_BIN, PLAIN_PROXY, startNginxProxy, startSynpool } from '../harness/proxy-process.js';
import { stopChild, waitForJsonLine } from '../topology/child-output.js';
import type { Topology } from '../topology/index.js';
import type { Endpoint } from './own-time.js';

export const CONTENDER_NAMES = [
  'synpool',
  'synpool --no-accel',
  'node proxy',
  'nginx',
  'synpool --no-accel, warm',
  'node proxy, warm',
  'synpool --no-accel, local',
  'node proxy, local',
  'node:net relay, warm',
  'node:http lean proxy, warm',
  'node:http floor',
] as const;
export type ContenderName = (typeof CONTENDER_NAMES)[number];

/** The contenders whose upstream keeps connections open (ContenderContext.warmUpstream). */
export const WARM_CONTENDERS: readonly ContenderName[] = ['synpool --no-accel, warm', 'node proxy, warm'];

/** The byte relay over open upstream connections (relay-floor.ts): the least a Node proxy does per request. */
export const RELAY_CONTENDERS: readonly ContenderName[] = ['node:net relay, warm'];

/** node:http with a hand-written upstream side over open connections (lean-proxy.ts): the least a Node proxy that parses HTTP does. */
export const LEAN_CONTENDERS: readonly ContenderName[] = ['node:http lean proxy, warm'];

/** The contenders in front of the keep-alive upstream (ContenderContext.warmUpstream). */
export const KEEP_ALIVE_UPSTREAM_CONTENDERS: readonly ContenderName[] = [...WARM_CONTENDERS, ...RELAY_CONTENDERS, ...LEAN_CONTENDERS];

/** The contenders whose upstream is on their own loopback (ContenderContext.localUpstream). */
export const LOCAL_CONTENDERS: readonly ContenderName[] = ['synpool --no-accel, local', 'node proxy, local'];

/**
 * The cold modes' references only: not run in the throughput part, where every contender's upstream
 * keeps connections open (the `, warm` proxies would repeat the plain ones). The relay and lean floors
 * do run there: the least a Node proxy spends per request, beside what synpool spends.
 */
export const COLD_ONLY_CONTENDERS: readonly ContenderName[] = [...WARM_CONTENDERS, ...LOCAL_CONTENDERS];

/** How long the warm contenders and their upstream keep an idle connection: longer than any gap between a contender's turns. */
export const WARM_KEEPALIVE_MS = 300_000;

export interface RunningContender {
  readonly name: ContenderName;
  readonly port: number;
  /** False for the floor: it answers itself. */
  readonly proxies: boolean;
  /** The upstream it forwards to (the warm contenders: the keep-alive one). */
  readonly upstream: Endpoint;
  /** synpool: ready pool entries now (undefined for the others). */
  poolReady(): Promise<number | undefined>;
  /** CPU (user + system) of the contender's processes so far, ms: all of synpool's and nginx's, the Node contenders' one. */
  cpuMs?(): number | undefined;
  /** Of cpuMs, the kernel's part (system time), ms. */
  systemCpuMs?(): number | undefined;
  /**
   * Time on a CPU so far by process (`main`; synpool's `keeper`, `worker 1`…; nginx's workers), ms,
   * from the scheduler's nanosecond clock: what the cold modes read around each request or burst.
   */
  runMsByProcess?(): Record<string, number> | undefined;
  stop(): Promise<void>;
}

const FLOOR_SERVER = fileURLToPath(new URL('./floor-server.js', import.meta.url));
const RELAY_FLOOR = fileURLToPath(new URL('./relay-floor.js', import.meta.url));
const LEAN_PROXY = fileURLToPath(new URL('./lean-proxy.js', import.meta.url));
const POOL_FILL_DEADLINE_MS = 5_000;
/** nginx's `keepalive` (idle upstream connections kept per worker): synpool's own cap (the minimal proxy's Pool has the same). */
const NGINX_UPSTREAM_KEEPALIVE = DEFAULTS.maxUpstreamConnections;

export interface ContenderContext {
  topo: Topology;
  /** The upstream that closes every connection. */
  upstream: Endpoint;
  /** The keep-alive upstream of the warm contenders (undefined: none running). */
  warmUpstream: Endpoint | undefined;
  /** The local contenders' upstream, on the client namespace's loopback, closing every connection (undefined: none running). */
  localUpstream: Endpoint | undefined;
  /** synpool's fixed pool size (--pool-size): as large as a burst, or ahead of one request per round trip. */
  poolSize: number;
  /** Another build's cli.js for the synpool contenders (--synpool-cli), or undefined. */
  synpoolCli: string | undefined;
  /** --workers of the synpool contenders (--synpool-workers), or undefined. */
  synpoolWorkers: number | undefined;
  /** Two consecutive free ports in the client namespace per call. */
  port(): number;
}

export function nginxAvailable(): boolean {
  return existsSync(NGINX_BIN);
}

const urlOf = (e: Endpoint): string => `http://${e.addr}:${e.port}`;

export async function startOwnTimeContender(name: ContenderName, ctx: ContenderContext): Promise<RunningContender> {
  const none = (): Promise<undefined> => Promise.resolve(undefined);
  const warm = KEEP_ALIVE_UPSTREAM_CONTENDERS.includes(name);
  const local = LOCAL_CONTENDERS.includes(name);
  if (warm && ctx.warmUpstream === undefined) throw new Error(`${name} needs the keep-alive upstream (ContenderContext.warmUpstream)`);
  if (local && ctx.localUpstream === undefined) throw new Error(`${name} needs the loopback upstream (ContenderContext.localUpstream)`);
  const upstream = warm ? ctx.warmUpstream! : local ? ctx.localUpstream! : ctx.upstream;
  switch (name) {
    case 'synpool':
    case 'synpool --no-accel':
    case 'synpool --no-accel, warm':
    case 'synpool --no-accel, local': {
      const accel = name === 'synpool';
      const port = ctx.port();
      const p = await startSynpool(ctx.topo, {
        label: name,
        upstreamUrl: urlOf(upstream),
        port,
        metricsPort: ctx.port(),
        accel,
        poolSize: accel ? ctx.poolSize : undefined,
        cli: ctx.synpoolCli,
        workers: ctx.synpoolWorkers,
        config: warm ? { upstreamKeepAliveTimeoutMs: WARM_KEEPALIVE_MS } : undefined,
      });
      const poolReady = async (): Promise<number | undefined> => (await p.counters())?.poolReady;
      if (accel) {
        if (p.accelerated() === false) {
          await p.stop();
          throw new Error('synpool started without its pool (no CAP_NET_RAW/CAP_NET_ADMIN?): the accelerated contender would measure plain connects');
        }
        const deadline = Date.now() + POOL_FILL_DEADLINE_MS;
        while (Date.now() < deadline && ((await poolReady().catch(() => 0)) ?? 0) < ctx.poolSize) await sleep(50);
      }
      return {
        name, port, proxies: true, upstream, poolReady: accel ? poolReady : none,
        cpuMs: () => p.cpuMs(), systemCpuMs: () => p.systemCpuMs(), runMsByProcess: () => processTreeRunMsByProcess(p.pid), stop: () => p.stop(),
      };
    }
    case 'nginx': {
      const port = ctx.port();
      // As many idle upstream connections as the Node contenders may keep (the minimal proxy's Pool and synpool's
      // maxUpstreamConnections: 256). With the harness's default of 32, a wrk run of 64 connections made nginx
      // close and reopen upstream connections all along: 2–5 k requests/s instead of ~26 k (docs/own-time.md, stop 29).
      const p = await startNginxProxy(ctx.topo, { label: 'nginx', servers: [{ host: upstream.addr, port: upstream.port }], port, upstreamKeepalive: NGINX_UPSTREAM_KEEPALIVE });
      return {
        name, port, proxies: true, upstream, poolReady: none,
        cpuMs: () => p.cpuMs(), systemCpuMs: () => p.systemCpuMs(), runMsByProcess: () => processTreeRunMsByProcess(p.pid), stop: () => p.stop(),
      };
    }
    case 'node proxy':
    case 'node proxy, warm':
    case 'node proxy, local':
    case 'node:net relay, warm':
    case 'node:http lean proxy, warm':
    case 'node:http floor': {
      const port = ctx.port();
      const proxies = name !== 'node:http floor';
      const args = name === 'node:net relay, warm' || name === 'node:http lean proxy, warm'
        ? [name === 'node:net relay, warm' ? RELAY_FLOOR : LEAN_PROXY, '--upstream', `${upstream.addr}:${upstream.port}`, '--listen', `127.0.0.1:${port}`]
        : proxies
        ? [PLAIN_PROXY, '--upstream', urlOf(upstream), '--listen', `127.0.0.1:${port}`, ...(warm ? ['--keep-alive-ms', String(WARM_KEEPALIVE_MS)] : [])]
        : [FLOOR_SERVER, '--listen', `127.0.0.1:${port}`];
      const child = ctx.topo.spawn('client', process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await waitForJsonLine<{ listening: number }>(child, 10_000, name);
      } catch (err) {
        await stopChild(child);
        throw err;
      }
      child.stdout?.resume();
      const pid = child.pid;
      const read = (f: (pid: number) => number | undefined) => (): number | undefined => (pid === undefined ? undefined : f(pid));
      const runMsByProcess = (): Record<string, number> | undefined => {
        const ms = pid === undefined ? undefined : processRunMs(pid);
        return ms === undefined ? undefined : { main: ms };
      };
      return { name, port, proxies, upstream, poolReady: none, cpuMs: read(processCpuMs), systemCpuMs: read(processSystemCpuMs), runMsByProcess, stop: () => stopChild(child, 2_000) };
    }
  }
}

/** Starts each of `names` in turn; on a failure stops those already started and rethrows. */
export async function startAll(names: readonly ContenderName[], ctx: ContenderContext): Promise<RunningContender[]> {
  const started: RunningContender[] = [];
  try {
    for (const n of names) started.push(await startOwnTimeContender(n, ctx));
    return started;
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

export async function stopAll(contenders: readonly RunningContender[]): Promise<void> {
  await Promise.all(contenders.map((c) => c.stop().catch(() => undefined)));
}
