// The markdown tables of an own-time run, and the verdicts against the targets.
import { formatMarkdownTable } from '../harness/markdown-table.js';
import type { ColdRunResult } from './cold-run.js';
import type { ThroughputRow } from './throughput-run.js';
import { LEAN_CONTENDERS, LOCAL_CONTENDERS, RELAY_CONTENDERS, WARM_CONTENDERS, type ContenderName } from './contenders.js';
import type { OwnTimeSummary, Quantiles } from './own-time-summary.js';
import { MARKED_PENALTY, penaltyRatios, type IdlePenaltyProbe } from './idle-penalty.js';

/** Issue 11's targets. */
export const TARGETS = { idleP50Ms: 1.0, idleP99Ms: 3.0, throughputRatio: 1.0, burstOverRttMs: 5 } as const;

/** What the burst verdict needs to know of the run. */
export interface BurstContext {
  burst: number;
  poolSize: number;
  measuredRttMs: number;
}

const ms = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
const us = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(1));

export function coldTable(runs: readonly ColdRunResult[]): string {
  const rows = runs.flatMap((r) => r.results);
  return formatMarkdownTable(
    [
      { header: 'mode', cell: (x: (typeof rows)[number]) => x.mode },
      { header: 'contender', cell: (x) => x.contender },
      { header: 'matched/sent', align: 'right', cell: (x) => `${x.summary.matched}/${x.summary.sent}${x.clientErrors.length ? ` (${x.clientErrors.length} err)` : ''}` },
      { header: 'upstream conns', cell: (x) => (Object.keys(x.summary.connections).length ? describeConnections(x.summary.connections) : '–') },
      { header: 'request p50', align: 'right', cell: (x) => ms(x.summary.requestMs?.p50) },
      { header: 'request p99', align: 'right', cell: (x) => ms(x.summary.requestMs?.p99) },
      { header: 'response p50', align: 'right', cell: (x) => ms(x.summary.responseMs?.p50) },
      { header: 'response p99', align: 'right', cell: (x) => ms(x.summary.responseMs?.p99) },
      { header: 'own p50 ms', align: 'right', cell: (x) => ms(x.summary.totalMs?.p50) },
      { header: 'own p99 ms', align: 'right', cell: (x) => ms(x.summary.totalMs?.p99) },
      { header: 'upstream wait p50', align: 'right', cell: (x) => ms(x.summary.upstreamWaitP50Ms) },
      { header: 'client p50', align: 'right', cell: (x) => ms(x.summary.clientMs?.p50) },
      { header: 'client p99', align: 'right', cell: (x) => ms(x.summary.clientMs?.p99) },
    ],
    rows,
  );
}

export function throughputTable(rows: readonly ThroughputRow[]): string {
  return formatMarkdownTable(
    [
      { header: 'contender', cell: (x: ThroughputRow) => x.contender },
      { header: 'rounds', align: 'right', cell: (x) => String(x.rounds.length) },
      { header: 'best req/s', align: 'right', cell: (x) => String(x.bestRps) },
      { header: 'median req/s', align: 'right', cell: (x) => String(x.medianRps) },
      { header: 'p50 ms', align: 'right', cell: (x) => ms(x.p50Ms) },
      { header: 'p99 ms', align: 'right', cell: (x) => ms(x.p99Ms) },
      { header: 'errors', align: 'right', cell: (x) => String(x.errors) },
      { header: 'CPU µs/req', align: 'right', cell: (x) => us(x.cpuUsPerRequest) },
      { header: 'of it kernel', align: 'right', cell: (x) => us(x.systemUsPerRequest) },
    ],
    rows,
  );
}

export interface Verdicts {
  idleP50Ms: number | undefined;
  idleP99Ms: number | undefined;
  idleMet: boolean | undefined;
  /** synpool / node proxy, median req/s. */
  throughputRatio: number | undefined;
  throughputMet: boolean | undefined;
  /** burst mode, synpool: the client's p50 minus the measured RTT, ms (a pool as large as the burst). */
  burstOverRttP50Ms: number | undefined;
  burstMet: boolean | undefined;
  lines: string[];
}

export function verdicts(cold: readonly ColdRunResult[], throughput: readonly ThroughputRow[], burst?: BurstContext, idlePenalty?: IdlePenaltyProbe): Verdicts {
  const idleRun = cold.find((r) => r.mode === 'idle');
  const idleTotal = (contender: ContenderName): Quantiles | undefined => idleRun?.results.find((x) => x.contender === contender)?.summary.totalMs;
  const meetsIdle = (q: Quantiles): boolean => q.p50 <= TARGETS.idleP50Ms && q.p99 <= TARGETS.idleP99Ms;
  const idle = idleTotal('synpool');
  const idleMet = idle === undefined ? undefined : meetsIdle(idle);
  const s = throughput.find((x) => x.contender === 'synpool');
  const n = throughput.find((x) => x.contender === 'node proxy');
  const ratio = s && n && n.medianRps > 0 ? Math.round((s.medianRps / n.medianRps) * 1000) / 1000 : undefined;
  const throughputMet = ratio === undefined ? undefined : ratio >= TARGETS.throughputRatio;
  const lines: string[] = [];
  if (idle) {
    lines.push(
      `cold path after idleness, synpool own time: p50 ${ms(idle.p50)} ms (target ≤ ${TARGETS.idleP50Ms}), p99 ${ms(idle.p99)} ms (target ≤ ${TARGETS.idleP99Ms}): ${idleMet ? 'met' : 'MISSED'}`,
    );
  }
  for (const f of IDLE_FLOORS) {
    const q = idleTotal(f.contender);
    if (q) lines.push(`${f.what}: p50 ${ms(q.p50)} ms, p99 ${ms(q.p99)} ms: ${meetsIdle(q) ? f.within : f.misses}`);
  }
  for (const ref of REFERENCES) {
    const line = referenceLine(cold, 'idle', ref);
    if (line) lines.push(line);
  }
  const penalty = idlePenalty && idlePenaltyLine(idlePenalty, cold);
  if (penalty) lines.push(penalty);
  if (ratio !== undefined) lines.push(`warm path, wrk median req/s synpool / node proxy = ${ratio} (target ≥ ${TARGETS.throughputRatio}): ${throughputMet ? 'met' : 'MISSED'}`);
  const burstRun = cold.find((r) => r.mode === 'burst');
  const sBurst = burstRun?.results.find((x) => x.contender === 'synpool')?.summary;
  let burstOverRttP50Ms: number | undefined;
  let burstMet: boolean | undefined;
  if (burst !== undefined && sBurst?.clientMs !== undefined) {
    burstOverRttP50Ms = Math.round((sBurst.clientMs.p50 - burst.measuredRttMs) * 100) / 100;
    const sized = burst.poolSize >= burst.burst;
    burstMet = sized ? burstOverRttP50Ms <= TARGETS.burstOverRttMs : undefined;
    lines.push(
      `burst of ${burst.burst}, synpool pool ${burst.poolSize}: client p50 ${ms(sBurst.clientMs.p50)} ms = RTT + ${ms(burstOverRttP50Ms)} ms` +
        (sized ? ` (target for a burst as large as the pool: RTT + ${TARGETS.burstOverRttMs}): ${burstMet ? 'met' : 'MISSED'}` : ' (the pool is smaller than the burst: no target)') +
        `; own time p50 ${ms(sBurst.totalMs?.p50)} ms (request path ${ms(sBurst.requestMs?.p50)}, response path ${ms(sBurst.responseMs?.p50)})`,
    );
    const fBurst = burstRun?.results.find((x) => x.contender === 'node:http floor')?.summary;
    if (fBurst?.clientMs !== undefined) {
      lines.push(
        `floor in the same burst (bare node:http answering from memory, no upstream): own time p50 ${ms(fBurst.totalMs?.p50)} ms, client p50 ${ms(fBurst.clientMs.p50)} ms: ` +
          `what ${burst.burst} simultaneous connections cost one Node process and the client here before any proxying`,
      );
    }
    for (const f of sized ? BURST_FLOORS : []) {
      const q = burstRun?.results.find((x) => x.contender === f.contender)?.summary.clientMs;
      if (q === undefined) continue;
      const over = q.p50 - burst.measuredRttMs;
      lines.push(`${f.what}: client p50 ${ms(q.p50)} ms = RTT + ${ms(over)} ms: ${over <= TARGETS.burstOverRttMs ? f.within : f.misses}`);
    }
    for (const ref of REFERENCES) {
      const line = referenceLine(cold, 'burst', ref, burst.measuredRttMs);
      if (line) lines.push(line);
    }
  }
  return { idleP50Ms: idle?.p50, idleP99Ms: idle?.p99, idleMet, throughputRatio: ratio, throughputMet, burstOverRttP50Ms, burstMet, lines };
}

/** The floors judged against the cold-path target after idleness: whether even they meet it. */
const IDLE_FLOORS: readonly { contender: ContenderName; what: string; within: string; misses: string }[] = [
  {
    contender: 'node:http floor',
    what: 'floor after idleness (bare node:http answering from memory, no upstream)',
    within: 'within the cold-path target, so the target is not out of reach for Node here',
    misses: 'Node alone misses the cold-path target on this machine in this run',
  },
  {
    contender: 'node:net relay, warm',
    what: 'relay floor after idleness (node:net relaying bytes over an open upstream connection, no HTTP parsed)',
    within: 'within the cold-path target: what a proxy spends beyond it is HTTP and its own work',
    misses: 'a Node proxy that parses no HTTP at all misses the cold-path target on this machine in this run',
  },
  {
    contender: 'node:http lean proxy, warm',
    what: 'lean HTTP floor after idleness (node:http in front, the upstream exchange written by hand over an open connection)',
    within: 'within the cold-path target: a Node proxy that parses HTTP on both sides can meet it here, and what synpool spends beyond it is its HTTP libraries and its own work',
    misses: 'even a Node proxy with a hand-written upstream side misses the cold-path target on this machine in this run',
  },
];

/**
 * The floors judged against the burst target (a pool as large as the burst): their
 * connections are open, so the client's p50 over the RTT is what the same burst costs
 * the client, the delay line and a proxy doing that little here.
 */
const BURST_FLOORS: readonly { contender: ContenderName; what: string; within: string; misses: string }[] = [
  {
    contender: 'node:net relay, warm',
    what: 'relay floor in the same burst (no HTTP parsed, upstream connections open)',
    within: 'within the burst target',
    misses: 'even a Node proxy that parses no HTTP misses the burst target on this machine in this run',
  },
  {
    contender: 'node:http lean proxy, warm',
    what: 'lean HTTP floor in the same burst (hand-written upstream side, upstream connections open)',
    within: 'within the burst target: a Node proxy that parses HTTP can meet it here',
    misses: 'a Node proxy that parses HTTP misses the burst target on this machine in this run even with its connections open',
  },
];

interface Reference {
  readonly contenders: readonly ContenderName[];
  readonly what: string;
  /** Their client times include a round trip to the delay line's upstream (the local ones' do not). */
  readonly acrossLink: boolean;
}

/**
 * The references a pooled request is read against. Warm: the same proxying with every
 * upstream connection already open, so what synpool spends beyond them is the cost of
 * being handed its connection. Local: a new connection per request whose handshake
 * costs nothing on the network, so what synpool spends beyond them is its pool's own.
 */
const REFERENCES: readonly Reference[] = [
  { contenders: WARM_CONTENDERS, what: "proxies whose upstream connections are already open (a pooled request's floor)", acrossLink: true },
  { contenders: RELAY_CONTENDERS, what: 'a byte relay over open upstream connections, no HTTP parsed (the least a Node proxy does)', acrossLink: true },
  { contenders: LEAN_CONTENDERS, what: 'node:http with a hand-written upstream exchange over open connections (the least a Node proxy that parses HTTP does)', acrossLink: true },
  {
    contenders: LOCAL_CONTENDERS,
    what: "proxies making a new connection per request to an upstream on their loopback (a pooled request's new-connection floor; their client times have no link round trip)",
    acrossLink: false,
  },
];

function referenceLine(cold: readonly ColdRunResult[], mode: 'idle' | 'burst', ref: Reference, rttMs?: number): string | undefined {
  const run = cold.find((r) => r.mode === mode);
  const s = run?.results.find((x) => x.contender === 'synpool')?.summary;
  const refs = run?.results.filter((x) => ref.contenders.includes(x.contender as ContenderName) && x.summary.totalMs !== undefined) ?? [];
  if (s?.totalMs === undefined || refs.length === 0) return undefined;
  const client = (c: Quantiles | undefined, acrossLink: boolean): string =>
    c === undefined ? '' : mode === 'burst' && rttMs !== undefined && acrossLink ? `, client p50 ${ms(c.p50)} ms = RTT + ${ms(c.p50 - rttMs)}` : `, client p50 ${ms(c.p50)} ms`;
  const parts = refs.map(
    (w) => `${w.contender}: own p50 ${ms(w.summary.totalMs!.p50)} / p99 ${ms(w.summary.totalMs!.p99)} ms${client(w.summary.clientMs, ref.acrossLink)} (${describeConnections(w.summary.connections)})`,
  );
  return (
    `${mode === 'idle' ? 'after idleness' : 'same burst'}, ${ref.what}: ${parts.join('; ')}; ` +
    `synpool pooled: own p50 ${ms(s.totalMs.p50)} / p99 ${ms(s.totalMs.p99)} ms${client(s.clientMs, true)}`
  );
}

/**
 * The host's idle penalty, and the floor paying it in the same run: the bare node:http
 * server's tight-loop requests come back to back (it waits on no upstream), its idle
 * ones after a pause, so their ratio is the penalty on Node's own per-request work.
 */
export function idlePenaltyLine(p: IdlePenaltyProbe, cold: readonly ColdRunResult[]): string | undefined {
  const ratios = penaltyRatios(p);
  const base = p.steps.find((s) => s.gapMs === 0);
  if (ratios === undefined || base === undefined || ratios.length === 0) return undefined;
  const paused = p.steps.filter((s) => s.gapMs > 0);
  const own = (mode: string, contender: ContenderName): Quantiles | undefined =>
    cold.find((r) => r.mode === mode)?.results.find((x) => x.contender === contender)?.summary.totalMs;
  const fIdle = own('idle', 'node:http floor');
  const fTight = own('tight', 'node:http floor');
  const nIdle = own('idle', 'nginx');
  const nTight = own('tight', 'nginx');
  const x = (a: number, b: number): string => `× ${(a / b).toFixed(1)}`;
  return (
    `machine idle penalty (${p.workload}; a fresh Node process, JIT warm): p50 ${base.p50Us} µs back to back, ` +
    paused.map((s) => `${s.p50Us} µs after ${s.gapMs} ms`).join(', ') +
    ` of idleness (${ratios.map((r) => `× ${r.ratio}`).join(', ')}): ` +
    (Math.max(...ratios.map((r) => r.ratio)) >= MARKED_PENALTY
      ? 'here, work that follows a pause runs several times slower than back to back'
      : `no marked penalty on this host (under × ${MARKED_PENALTY})`) +
    (fIdle && fTight ? `; the node:http floor: own p50 ${ms(fTight.p50)} ms back to back (tight), ${ms(fIdle.p50)} ms after idleness (${x(fIdle.p50, fTight.p50)})` : '') +
    (nIdle && nTight ? `; nginx, with a small footprint per request: ${ms(nTight.p50)} ms tight, ${ms(nIdle.p50)} ms after idleness` : '')
  );
}

function describeConnections(c: OwnTimeSummary['connections']): string {
  return Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ') || 'no upstream connection seen';
}
