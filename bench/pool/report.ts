// The pool benchmark's result shape and its markdown table.

export interface Dist {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly n: number;
}

export interface PhaseResult {
  readonly phase: string;
  /** Poisson rate, or null for the burst. */
  readonly ratePerSec: number | null;
  readonly seconds: number;
  readonly requests: number;
  /** Answered 200 (a replayed request counts once). */
  readonly served: number;
  readonly failed: number;
  /** acquire() gave a socket that served the request. */
  readonly hits: number;
  readonly misses: number;
  /** Pooled socket reset on first use, replayed on a plain connection. */
  readonly replayed: number;
  /** hits / requests. */
  readonly hitRatio: number | null;
  /** SYNs the pool sent during the measured window. */
  readonly synsSent: number;
  readonly synsPerServed: number | null;
  readonly expiredUnused: number;
  readonly evicted: number;
  readonly failures: number;
  /** The pool at the end of the window. */
  readonly pool: {
    readonly demandPerSec: number;
    readonly computedTarget: number;
    readonly targetReady: number;
    readonly ready: number;
    readonly synAckRttMs: number | null;
    readonly effectiveTtlMs: number;
  };
  /** acquire() (take + TCP_REPAIR handoff + net.Socket) for hits, µs. */
  readonly acquireHitUs: Dist;
  /** Arrival → first response byte. */
  readonly ttfbHitMs: Dist;
  readonly ttfbMissMs: Dist;
  /** Plain connect + GET that never asks the pool, sent alongside. */
  readonly ttfbBaselineMs: Dist;
  readonly errors: readonly string[];
}

export interface PoolBenchReport {
  readonly command: string;
  readonly node: string;
  readonly kernel: string;
  readonly link: string;
  readonly rttMs: number;
  readonly measuredRttMs: number;
  readonly poolConfig: Record<string, unknown>;
  readonly phases: readonly PhaseResult[];
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)} %`);
const d = (x: Dist, digits = 1): string =>
  x.n === 0 ? '–' : `${x.p50?.toFixed(digits)} / ${x.p99?.toFixed(digits)}`;

export function formatTable(r: PoolBenchReport): string {
  const c = r.poolConfig;
  const lines = [
    `pool benchmark: ${r.link} link, RTT ${r.rttMs} ms (measured ${r.measuredRttMs} ms), node ${r.node}, kernel ${r.kernel}`,
    `pool: sizing ${String(c.sizing)}, synRatePerSec ${String(c.synRatePerSec)}, synBurst ${String(c.synBurst)}, ` +
      `demandWindowMs ${String(c.demandWindowMs)}, safetyFactor ${String(c.safetyFactor)}, burstEntries ${String(c.burstEntries)}`,
    `command: ${r.command}`,
    '',
    '| phase | requests | served | hit ratio | SYNs / served | expired unused | evicted | target (ready at end) | acquire µs hit p50 / p99 | TTFB hit ms p50 / p99 | TTFB miss ms p50 / p99 | TTFB plain baseline ms p50 / p99 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of r.phases) {
    lines.push(
      `| ${p.phase} | ${p.requests} | ${p.served} | ${pct(p.hitRatio)} | ${p.synsPerServed?.toFixed(2) ?? '–'} | ${p.expiredUnused} | ${p.evicted} | ` +
        `${p.pool.targetReady} (${p.pool.ready}) | ${d(p.acquireHitUs, 0)} | ${d(p.ttfbHitMs)} | ${d(p.ttfbMissMs)} | ${d(p.ttfbBaselineMs)} |`,
    );
  }
  const errs = r.phases.flatMap((p) => p.errors.map((e) => `${p.phase}: ${e}`));
  if (errs.length > 0) lines.push('', 'errors:', ...errs.map((e) => `- ${e}`));
  return lines.join('\n');
}
