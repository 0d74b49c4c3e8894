// One cell of the result grid (contender × scenario × RTT) and the table built
// from a list of them. Pure: the runners fill these in, main prints them.
import type { ContenderName, ScenarioName } from './bench-args.js';
import { summarize, type LatencySummary } from './latency-summary.js';
import { fmt, fmtPercent, formatMarkdownTable, type Column } from './markdown-table.js';
import type { ProxyCounters } from './prometheus-text.js';

export interface BenchCell {
  rttMs: number;
  scenario: ScenarioName;
  contender: ContenderName | `accel pool=${number}` | `accel ${string}`;
  latency: LatencySummary;
  /** Requests that needed a new upstream connection; null when unknown (nginx). */
  newConnections: number | null;
  /** synpool: requests by connection source from /metrics (reused, pool, plain). */
  connectionSources: Record<string, number> | null;
  /** hits / (hits + misses), from the pool counters; else pool / (pool + plain) requests. */
  poolHitRatio: number | null;
  /** SYNs the pool sent per request served. */
  synsPerRequest: number | null;
  /** Proxy CPU time (user + system) over the measured part, ms; null for direct. */
  proxyCpuMs: number | null;
  /** Did the proxy actually use a pool? null when not a synpool. */
  accelerated: boolean | null;
  fallbacks: Record<string, number> | null;
  /** synpool to an https upstream: mean TLS handshake time over the measured part, ms (its own histogram, apart from the handoff). */
  tlsHandshakeMeanMs: number | null;
  /** The first few error messages, if any request failed. */
  firstErrors: string[];
}

export interface CellInput {
  rttMs: number;
  scenario: ScenarioName;
  contender: BenchCell['contender'];
  samplesMs: readonly number[];
  errors: number;
  kind: 'direct' | 'synpool' | 'nginx' | 'node';
  /** Counter delta over the measured part (synpool only). */
  counters?: ProxyCounters | undefined;
  cpuMs?: number | null | undefined;
  /** direct: connections the client opened, where it counts them (https); else every request is taken as one. */
  connectionsOpened?: number | undefined;
  accelerated?: boolean | null | undefined;
  firstErrors?: readonly string[] | undefined;
}

export function buildCell(input: CellInput): BenchCell {
  const latency = summarize(input.samplesMs, input.errors);
  const served = latency.count + latency.errors;
  let newConnections: number | null = null;
  let connectionSources: Record<string, number> | null = null;
  let poolHitRatio: number | null = null;
  let synsPerRequest: number | null = null;
  if (input.kind === 'direct') newConnections = input.connectionsOpened ?? served;
  const c = input.counters;
  if (input.kind === 'synpool' && c !== undefined) {
    connectionSources = c.requestsBySource;
    const bySource = Object.entries(c.requestsBySource);
    if (bySource.length > 0) newConnections = bySource.filter(([k]) => k !== 'reused' && k !== 'none').reduce((a, [, v]) => a + v, 0);
    if (c.poolHits !== undefined || c.poolMisses !== undefined) {
      const asked = (c.poolHits ?? 0) + (c.poolMisses ?? 0);
      poolHitRatio = asked > 0 ? (c.poolHits ?? 0) / asked : null;
    } else if (input.accelerated === true) {
      const pool = c.requestsBySource.pool ?? 0;
      const plain = c.requestsBySource.plain ?? 0;
      poolHitRatio = pool + plain > 0 ? pool / (pool + plain) : null;
    }
    if (c.synsSent !== undefined && served > 0) synsPerRequest = c.synsSent / served;
  }
  return {
    rttMs: input.rttMs,
    scenario: input.scenario,
    contender: input.contender,
    latency,
    newConnections,
    connectionSources,
    poolHitRatio,
    synsPerRequest,
    proxyCpuMs: input.cpuMs ?? null,
    accelerated: input.accelerated ?? null,
    fallbacks: c !== undefined && Object.keys(c.fallbacks).length > 0 ? c.fallbacks : null,
    tlsHandshakeMeanMs: c?.tlsHandshakeSeconds !== undefined && c.tlsHandshakeSeconds.count > 0 ? (c.tlsHandshakeSeconds.sum / c.tlsHandshakeSeconds.count) * 1000 : null,
    firstErrors: [...(input.firstErrors ?? [])],
  };
}

function sources(cell: BenchCell): string {
  if (cell.connectionSources === null || Object.keys(cell.connectionSources).length === 0) return '';
  return ` (${Object.entries(cell.connectionSources)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')})`;
}

const COLUMNS: Column<BenchCell>[] = [
  { header: 'RTT ms', align: 'right', cell: (c) => String(c.rttMs) },
  { header: 'scenario', cell: (c) => c.scenario },
  { header: 'contender', cell: (c) => (c.accelerated === false && c.contender.startsWith('accel') ? `${c.contender} (no pool!)` : c.contender) },
  { header: 'n', align: 'right', cell: (c) => (c.latency.errors > 0 ? `${c.latency.count} (+${c.latency.errors} err)` : String(c.latency.count)) },
  { header: 'p50 ms', align: 'right', cell: (c) => fmt(c.latency.p50Ms) },
  { header: 'p90 ms', align: 'right', cell: (c) => fmt(c.latency.p90Ms) },
  { header: 'p99 ms', align: 'right', cell: (c) => fmt(c.latency.p99Ms) },
  { header: 'new conns', cell: (c) => `${c.newConnections === null ? '–' : String(c.newConnections)}${sources(c)}` },
  { header: 'pool hits', align: 'right', cell: (c) => fmtPercent(c.poolHitRatio) },
  { header: 'SYN/req', align: 'right', cell: (c) => fmt(c.synsPerRequest, 2) },
  { header: 'CPU ms/req', align: 'right', cell: (c) => (c.proxyCpuMs === null || c.latency.count === 0 ? '–' : fmt(c.proxyCpuMs / (c.latency.count + c.latency.errors), 2)) },
];

/** Shown only where some cell has it (https upstreams). */
const TLS_COLUMN: Column<BenchCell> = { header: 'TLS ms', align: 'right', cell: (c) => fmt(c.tlsHandshakeMeanMs) };

/** The comparison table: one row per cell, in the order given. */
export function formatResultsTable(cells: readonly BenchCell[]): string {
  return formatMarkdownTable(cells.some((c) => c.tlsHandshakeMeanMs !== null) ? [...COLUMNS, TLS_COLUMN] : COLUMNS, cells);
}

/** The smallest pool size whose hit ratio reaches `target` (sizes ascending), or undefined. */
export function smallestSufficientSize(rows: ReadonlyArray<{ poolSize: number; cell: BenchCell }>, target = 0.99): { poolSize: number; cell: BenchCell } | undefined {
  return [...rows].sort((a, b) => a.poolSize - b.poolSize).find((r) => r.cell.poolHitRatio !== null && r.cell.poolHitRatio >= target);
}
