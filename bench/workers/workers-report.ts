// The table and the verdicts of a workers run: synpool and nginx with 1 and N
// worker processes, median wrk requests/s, issue 10's target.
import { formatMarkdownTable } from '../harness/markdown-table.js';
import type { ThroughputRow } from '../own-time/throughput-run.js';

/** Issue 10: synpool --workers N at least 0.4 x nginx with N workers (2 on a 2-core machine). */
export const WORKERS_TARGET_RATIO = 0.4;

export type WorkersRole = 'synpool1' | 'synpoolN' | 'nginx1' | 'nginxN';

export function contenderName(role: WorkersRole, n: number): string {
  switch (role) {
    case 'synpool1':
      return 'synpool --workers 1';
    case 'synpoolN':
      return `synpool --workers ${n}`;
    case 'nginx1':
      return 'nginx worker_processes 1';
    case 'nginxN':
      return `nginx worker_processes ${n}`;
  }
}

/** a / b rounded to 3 digits; undefined when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !(b > 0)) return undefined;
  return Math.round((a / b) * 1000) / 1000;
}

export interface WorkersVerdicts {
  workers: number;
  /** synpool N / nginx N, median req/s: the target. */
  ratioN: number | undefined;
  targetRatio: number;
  met: boolean | undefined;
  /** synpool 1 / nginx 1. */
  ratio1: number | undefined;
  /** synpool N / synpool 1, nginx N / nginx 1. */
  synpoolScaling: number | undefined;
  nginxScaling: number | undefined;
  /** CPU per request, synpool N / nginx N (how much more CPU a request costs through synpool). */
  cpuPerRequestRatioN: number | undefined;
  lines: string[];
}

export function workersVerdicts(rows: readonly ThroughputRow[], n: number): WorkersVerdicts {
  const row = (role: WorkersRole): ThroughputRow | undefined => rows.find((r) => r.contender === contenderName(role, n));
  const rps = (role: WorkersRole): number | undefined => {
    const r = row(role);
    return r === undefined || r.rounds.length === 0 ? undefined : r.medianRps;
  };
  const ratioN = ratio(rps('synpoolN'), rps('nginxN'));
  const ratio1 = ratio(rps('synpool1'), rps('nginx1'));
  const synpoolScaling = ratio(rps('synpoolN'), rps('synpool1'));
  const nginxScaling = ratio(rps('nginxN'), rps('nginx1'));
  const cpuPerRequestRatioN = ratio(row('synpoolN')?.cpuUsPerRequest, row('nginxN')?.cpuUsPerRequest);
  const met = ratioN === undefined ? undefined : ratioN >= WORKERS_TARGET_RATIO;
  const lines: string[] = [];
  const show = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
  lines.push(`synpool --workers ${n} / nginx worker_processes ${n}, median req/s = ${show(ratioN)} (target ≥ ${WORKERS_TARGET_RATIO}): ${met === undefined ? 'not measured' : met ? 'met' : 'MISSED'}`);
  lines.push(`synpool --workers 1 / nginx worker_processes 1 = ${show(ratio1)}`);
  lines.push(`scaling ${n}/1 workers: synpool ${show(synpoolScaling)}×, nginx ${show(nginxScaling)}×`);
  if (cpuPerRequestRatioN !== undefined) lines.push(`CPU per request with ${n} workers: synpool ${show(cpuPerRequestRatioN)}× nginx's`);
  return { workers: n, ratioN, targetRatio: WORKERS_TARGET_RATIO, met, ratio1, synpoolScaling, nginxScaling, cpuPerRequestRatioN, lines };
}

const ms = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(2));
const opt = (x: number | undefined, digits = 0): string => (x === undefined ? '–' : x.toFixed(digits));

export function workersTable(rows: readonly ThroughputRow[]): string {
  return formatMarkdownTable(
    [
      { header: 'contender', cell: (x: ThroughputRow) => x.contender },
      { header: 'rounds', align: 'right', cell: (x) => String(x.rounds.length) },
      { header: 'median req/s', align: 'right', cell: (x) => String(x.medianRps) },
      { header: 'best req/s', align: 'right', cell: (x) => String(x.bestRps) },
      { header: 'p50 ms', align: 'right', cell: (x) => ms(x.p50Ms) },
      { header: 'p99 ms', align: 'right', cell: (x) => ms(x.p99Ms) },
      { header: 'CPU % of a core', align: 'right', cell: (x) => opt(x.cpuPercent) },
      { header: 'CPU µs/req', align: 'right', cell: (x) => opt(x.cpuUsPerRequest, 1) },
      { header: 'wrk CPU %', align: 'right', cell: (x) => opt(x.wrkCpuPercent) },
      { header: 'machine CPU %', align: 'right', cell: (x) => opt(x.machineCpuPercent) },
      { header: 'errors', align: 'right', cell: (x) => String(x.errors) },
    ],
    rows,
  );
}

/** One line per contender: where its CPU went, process by process (median % of a core). */
export function cpuByProcessLines(rows: readonly ThroughputRow[]): string[] {
  return rows.flatMap((r) =>
    r.cpuPercentByProcess === undefined
      ? []
      : [`${r.contender}: ${Object.entries(r.cpuPercentByProcess).map(([k, v]) => `${k} ${v} %`).join(', ')}`],
  );
}

/** synpool: one line per contender with its requests by upstream connection source (how often the warm path really reused a connection). */
export function requestSourceLines(rows: readonly ThroughputRow[]): string[] {
  return rows.flatMap((r) => {
    const src = r.requestsBySource;
    if (src === undefined) return [];
    const total = Object.values(src).reduce((a, v) => a + v, 0);
    if (total <= 0) return [];
    const parts = Object.entries(src)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${((v / total) * 100).toFixed(1)} %`);
    return [`${r.contender}: ${total} requests; upstream connection ${parts.join(', ')}`];
  });
}
