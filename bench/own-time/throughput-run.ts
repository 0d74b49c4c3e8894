// Warm-path throughput with wrk (a C load generator: a Node one saturates
// before the proxies do): `wrk -t1 -cC -dNs` against each contender in the
// client namespace, keep-alive upstream, contenders alternating every round
// (the first rotates), best and median requests/s over the rounds, and the
// contender's CPU over each round where it can be read (/proc of the proxy's
// processes: nginx master + workers, synpool supervisor + keeper + workers).
import os from 'node:os';
import type { Topology } from '../topology/index.js';
import { stopChild } from '../topology/child-output.js';
import { parseWrkOutput, type WrkResult } from './wrk-output.js';
import { machineCpuTicks, reapedChildrenCpuMs } from '../harness/proc-cpu.js';

/** What a throughput run needs of a contender. */
export interface ThroughputContender {
  readonly name: string;
  readonly port: number;
  /** CPU (user + system) of all its processes so far, ms; undefined where not known. */
  cpuMs?(): number | undefined;
  /** Of cpuMs, the kernel's part (system time: syscalls, the network stack run for it), ms. */
  systemCpuMs?(): number | undefined;
  /** The same, process by process (names from processTreeCpuByProcessMs). */
  cpuByProcessMs?(): Record<string, number> | undefined;
  /** synpool: its requests so far by upstream connection source (reused, pool, plain…), from /metrics. */
  requestsBySource?(): Promise<Record<string, number> | undefined>;
}

/** One wrk round, with the contender's CPU during it. */
export interface ThroughputRound extends WrkResult {
  /** The contender's CPU during the round, ms, and the round's wall time (wrk start to exit), ms. */
  cpuMs?: number | undefined;
  /** Of cpuMs, the kernel's part, ms. */
  systemCpuMs?: number | undefined;
  wallMs?: number | undefined;
  /** CPU during the round by process, ms. */
  cpuByProcessMs?: Record<string, number> | undefined;
  /** synpool: requests during the round by upstream connection source. */
  requestsBySource?: Record<string, number> | undefined;
  /** wrk's own CPU during the round, ms (is the load generator the limit?). */
  wrkCpuMs?: number | undefined;
  /** The whole machine's CPU during the round, % of one core (the cores x 100 = saturated): the contender, wrk, the upstream and anything else running. */
  machineCpuPercent?: number | undefined;
}

export interface ThroughputOptions {
  seconds: number;
  rounds: number;
  connections: number;
  /** wrk threads (-t); default 1. */
  threads?: number;
  warmupSeconds: number;
  signal: AbortSignal;
  note(line: string): void;
}

export interface ThroughputRow {
  contender: string;
  rounds: ThroughputRound[];
  bestRps: number;
  medianRps: number;
  /** Median over the rounds of wrk's p50 and p99, ms. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: number;
  /** Median over the rounds of the contender's CPU, % of one core (200 = two cores busy); undefined where not measured. */
  cpuPercent?: number | undefined;
  /** Median over the rounds of its CPU per request, µs. */
  cpuUsPerRequest?: number | undefined;
  /** Median over the rounds of the kernel's part of it (system time), µs per request. */
  systemUsPerRequest?: number | undefined;
  /** Median over the rounds of each process's CPU, % of one core. */
  cpuPercentByProcess?: Record<string, number> | undefined;
  /** synpool: requests by upstream connection source, summed over the rounds. */
  requestsBySource?: Record<string, number> | undefined;
  /** Median over the rounds of wrk's CPU, % of one core. */
  wrkCpuPercent?: number | undefined;
  /** Median over the rounds of the machine's CPU, % of one core. */
  machineCpuPercent?: number | undefined;
}

const median = (v: readonly number[]): number | undefined => {
  if (v.length === 0) return undefined;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
};

export async function runWrk(topo: Topology, port: number, seconds: number, connections: number, signal?: AbortSignal, threads = 1): Promise<WrkResult> {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s', `http://127.0.0.1:${port}/`];
  const child = topo.spawn('client', 'wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (out += c));
  const closed = new Promise<void>((r) => child.once('close', () => r()));
  // Backstop: wrk stops itself after `seconds`.
  const timer = setTimeout(() => void stopChild(child, 1_000, 'SIGKILL'), (seconds + 10) * 1_000);
  // Interrupted: stop wrk now rather than at the end of its -d.
  const onAbort = (): void => void stopChild(child, 1_000, 'SIGINT');
  signal?.addEventListener('abort', onAbort, { once: true });
  await closed;
  clearTimeout(timer);
  signal?.removeEventListener('abort', onAbort);
  if (signal?.aborted) return { requestsPerSec: 0, requests: 0, seconds: 0, p50Ms: undefined, p99Ms: undefined, errors: 0 };
  return parseWrkOutput(out);
}

/** Median CPU % of one core and µs per request over the rounds that have a CPU reading. */
export function cpuSummary(rounds: readonly ThroughputRound[]): { cpuPercent: number | undefined; cpuUsPerRequest: number | undefined; systemUsPerRequest: number | undefined } {
  const measured = rounds.filter((x): x is ThroughputRound & { cpuMs: number; wallMs: number } => x.cpuMs !== undefined && x.wallMs !== undefined && x.wallMs > 0);
  const pct = median(measured.map((x) => (x.cpuMs / x.wallMs) * 100));
  const served = measured.filter((x) => x.requests > 0);
  const perReq = median(served.map((x) => (x.cpuMs * 1000) / x.requests));
  const systemPerReq = median(served.flatMap((x) => (x.systemCpuMs === undefined ? [] : [(x.systemCpuMs * 1000) / x.requests])));
  const tenth = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 10) / 10);
  return { cpuPercent: pct === undefined ? undefined : Math.round(pct), cpuUsPerRequest: tenth(perReq), systemUsPerRequest: tenth(systemPerReq) };
}

/** Each key's growth between two readings (CPU ms by process, requests by source); a key missing before counts from 0. */
export function recordDelta(before: Record<string, number> | undefined, after: Record<string, number> | undefined): Record<string, number> | undefined {
  if (before === undefined || after === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** The machine's busy CPU between two /proc/stat readings, % of one core (cores x 100 = every core busy). */
export function machinePercent(before: { busy: number; total: number } | undefined, after: { busy: number; total: number } | undefined, cores: number): number | undefined {
  if (before === undefined || after === undefined) return undefined;
  const total = after.total - before.total;
  if (!(total > 0)) return undefined;
  return Math.round(((after.busy - before.busy) / total) * cores * 100);
}

/** Key by key sum of the records present; undefined when there is none. */
export function sumRecords(records: ReadonlyArray<Record<string, number> | undefined>): Record<string, number> | undefined {
  const present = records.filter((r): r is Record<string, number> => r !== undefined);
  if (present.length === 0) return undefined;
  const out: Record<string, number> = {};
  for (const r of present) for (const [k, v] of Object.entries(r)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Median over the rounds of each process's CPU, % of one core, rounded. */
export function cpuByProcessSummary(rounds: readonly ThroughputRound[]): Record<string, number> | undefined {
  const byName = new Map<string, number[]>();
  for (const r of rounds) {
    if (r.cpuByProcessMs === undefined || r.wallMs === undefined || !(r.wallMs > 0)) continue;
    for (const [k, v] of Object.entries(r.cpuByProcessMs)) byName.set(k, [...(byName.get(k) ?? []), (v / r.wallMs) * 100]);
  }
  if (byName.size === 0) return undefined;
  return Object.fromEntries([...byName].map(([k, v]) => [k, Math.round(median(v)!)]));
}

export async function runThroughput(topo: Topology, contenders: readonly ThroughputContender[], o: ThroughputOptions): Promise<ThroughputRow[]> {
  const rounds = new Map<ThroughputContender, ThroughputRound[]>(contenders.map((c) => [c, []]));
  if (o.warmupSeconds > 0) for (const c of contenders) if (!o.signal.aborted) await runWrk(topo, c.port, o.warmupSeconds, o.connections, o.signal, o.threads);
  for (let r = 0; r < o.rounds && !o.signal.aborted; r++) {
    for (let k = 0; k < contenders.length && !o.signal.aborted; k++) {
      const c = contenders[(r + k) % contenders.length]!;
      const cpu0 = c.cpuMs?.();
      const sys0 = c.systemCpuMs?.();
      const src0 = await c.requestsBySource?.().catch(() => undefined);
      const by0 = c.cpuByProcessMs?.();
      const wrk0 = reapedChildrenCpuMs();
      const m0 = machineCpuTicks();
      const t0 = performance.now();
      const res: ThroughputRound = await runWrk(topo, c.port, o.seconds, o.connections, o.signal, o.threads);
      const wallMs = performance.now() - t0;
      const wrk1 = reapedChildrenCpuMs();
      const m1 = machineCpuTicks();
      const cpu1 = c.cpuMs?.();
      const sys1 = c.systemCpuMs?.();
      const by1 = c.cpuByProcessMs?.();
      const src1 = await c.requestsBySource?.().catch(() => undefined);
      if (o.signal.aborted) break;
      if (wrk0 !== undefined && wrk1 !== undefined) res.wrkCpuMs = wrk1 - wrk0;
      const machine = machinePercent(m0, m1, os.cpus().length);
      if (machine !== undefined) res.machineCpuPercent = machine;
      const src = recordDelta(src0, src1);
      if (src !== undefined) res.requestsBySource = src;
      res.wallMs = Math.round(wallMs);
      if (cpu0 !== undefined && cpu1 !== undefined) {
        res.cpuMs = cpu1 - cpu0;
        if (sys0 !== undefined && sys1 !== undefined) res.systemCpuMs = sys1 - sys0;
        const by = recordDelta(by0, by1);
        if (by !== undefined) res.cpuByProcessMs = by;
      }
      rounds.get(c)!.push(res);
      const cpuNote = res.cpuMs === undefined ? '' : `, CPU ${Math.round((res.cpuMs / wallMs) * 100)} % of a core`;
      o.note(`wrk round ${r + 1}/${o.rounds}: ${c.name} ${Math.round(res.requestsPerSec)} req/s${cpuNote}`);
    }
  }
  return contenders.map((c) => {
    const rs = rounds.get(c)!;
    const rps = rs.map((x) => x.requestsPerSec);
    const cpu = cpuSummary(rs);
    const byProcess = cpuByProcessSummary(rs);
    const sources = sumRecords(rs.map((x) => x.requestsBySource));
    const wrkPct = median(rs.flatMap((x) => (x.wrkCpuMs === undefined || !(x.wallMs! > 0) ? [] : [(x.wrkCpuMs / x.wallMs!) * 100])));
    const machinePct = median(rs.flatMap((x) => (x.machineCpuPercent === undefined ? [] : [x.machineCpuPercent])));
    return {
      contender: c.name,
      rounds: rs,
      bestRps: Math.round(Math.max(0, ...rps)),
      medianRps: Math.round(median(rps) ?? 0),
      p50Ms: median(rs.flatMap((x) => (x.p50Ms === undefined ? [] : [x.p50Ms]))),
      p99Ms: median(rs.flatMap((x) => (x.p99Ms === undefined ? [] : [x.p99Ms]))),
      errors: rs.reduce((a, x) => a + x.errors, 0),
      ...(cpu.cpuPercent === undefined ? {} : cpu),
      ...(byProcess === undefined ? {} : { cpuPercentByProcess: byProcess }),
      ...(sources === undefined ? {} : { requestsBySource: sources }),
      ...(wrkPct === undefined ? {} : { wrkCpuPercent: Math.round(wrkPct) }),
      ...(machinePct === undefined ? {} : { machineCpuPercent: Math.round(machinePct) }),
    };
  });
}
