// Warm-path throughput with wrk (a C load generator: a Node one saturates
// before the proxies do): `wrk -t1 -cC -dNs` against each contender in the
// client namespace, keep-alive upstream, contenders alternating every round
// (the first rotates), best and median requests/s over the rounds.
import type { Topology } from '../topology/index.js';
import { stopChild } from '../topology/child-output.js';
import type { RunningContender } from './contenders.js';
import { parseWrkOutput, type WrkResult } from './wrk-output.js';

export interface ThroughputOptions {
  seconds: number;
  rounds: number;
  connections: number;
  warmupSeconds: number;
  signal: AbortSignal;
  note(line: string): void;
}

export interface ThroughputRow {
  contender: string;
  rounds: WrkResult[];
  bestRps: number;
  medianRps: number;
  /** Median over the rounds of wrk's p50 and p99, ms. */
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  errors: number;
}

const median = (v: readonly number[]): number | undefined => {
  if (v.length === 0) return undefined;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
};

export async function runWrk(topo: Topology, port: number, seconds: number, connections: number, signal?: AbortSignal): Promise<WrkResult> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '5s', `http://127.0.0.1:${port}/`];
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

export async function runThroughput(topo: Topology, contenders: readonly RunningContender[], o: ThroughputOptions): Promise<ThroughputRow[]> {
  const rounds = new Map<RunningContender, WrkResult[]>(contenders.map((c) => [c, []]));
  for (const c of contenders) if (!o.signal.aborted) await runWrk(topo, c.port, o.warmupSeconds, o.connections, o.signal);
  for (let r = 0; r < o.rounds && !o.signal.aborted; r++) {
    for (let k = 0; k < contenders.length && !o.signal.aborted; k++) {
      const c = contenders[(r + k) % contenders.length]!;
      const res = await runWrk(topo, c.port, o.seconds, o.connections, o.signal);
      if (o.signal.aborted) break;
      rounds.get(c)!.push(res);
      o.note(`wrk round ${r + 1}/${o.rounds}: ${c.name} ${Math.round(res.requestsPerSec)} req/s`);
    }
  }
  return contenders.map((c) => {
    const rs = rounds.get(c)!;
    const rps = rs.map((x) => x.requestsPerSec);
    return {
      contender: c.name,
      rounds: rs,
      bestRps: Math.round(Math.max(0, ...rps)),
      medianRps: Math.round(median(rps) ?? 0),
      p50Ms: median(rs.flatMap((x) => (x.p50Ms === undefined ? [] : [x.p50Ms]))),
      p99Ms: median(rs.flatMap((x) => (x.p99Ms === undefined ? [] : [x.p99Ms]))),
      errors: rs.reduce((a, x) => a + x.errors, 0),
    };
  });
}
