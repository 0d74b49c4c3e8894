// Lines set under a topology's table: the accelerated contenders' one-round-trip
// path against two floors measured in the same scenario, and against issue 11's
// targets where they apply. Pure: cells in, text out.
//  - direct-open: the client over connections it opened beforehand, no proxy: one
//    round trip and nothing else (no connect for the client, no accept for the server);
//  - direct less one round trip: the client with a new connection and no proxy, less
//    the handshake a pool saves: what a new connection costs the client and the server
//    besides its round trip. The delay line's round trip is fixed, so its quantiles
//    shift by exactly one RTT.
import type { BenchCell } from './bench-result.js';
import { fmt } from './markdown-table.js';

/** Issue 11: pool-served requests (poisson-close) p99, and a burst no larger than the pool p50, within RTT + this. */
export const ONE_RTT_TARGET_SLACK_MS = 5;

export interface FloorContext {
  /** The topology's measured connect RTT, ms. */
  measuredRttMs: number;
  /** The accelerated contender's pool size ('demand': synpool's own sizing). */
  poolSize: number | 'demand';
  burstSize: number;
}

interface Quantiles {
  p50: number | null;
  p99: number | null;
}

const signed = (ms: number): string => (ms < 0 ? `− ${fmt(-ms)}` : `+ ${fmt(ms)}`);
const overRtt = (ms: number | null, rtt: number): string => (ms === null ? '–' : `RTT ${signed(ms - rtt)}`);
const both = (q: Quantiles, rtt: number): string => `p50 ${overRtt(q.p50, rtt)}, p99 ${overRtt(q.p99, rtt)} ms`;
const diff = (a: number | null, b: number | null): string => (a === null || b === null ? '–' : signed(a - b));

/** Which quantile a scenario's target is on, if it has one here. */
function targetQuantile(scenario: string, ctx: FloorContext): 'p50' | 'p99' | undefined {
  if (scenario === 'poisson-close') return 'p99';
  if (scenario === 'burst' && typeof ctx.poolSize === 'number' && ctx.poolSize >= ctx.burstSize) return 'p50';
  return undefined;
}

export function roundTripFloorLines(cells: readonly BenchCell[], ctx: FloorContext): string[] {
  const rtt = ctx.measuredRttMs;
  const lines: string[] = [];
  const scenarios = [...new Set(cells.map((c) => c.scenario))];
  for (const scenario of scenarios) {
    const inScenario = cells.filter((c) => c.scenario === scenario);
    const accel = inScenario.filter((c) => c.contender.startsWith('accel'));
    const open = inScenario.find((c) => c.contender === 'direct-open');
    const direct = inScenario.find((c) => c.contender === 'direct');
    if (accel.length === 0 || (open === undefined && direct === undefined)) continue;
    const floors: Array<{ label: string; q: Quantiles }> = [];
    if (open !== undefined) floors.push({ label: `no proxy over open connections (direct-open, ${open.newConnections ?? 0} handshake(s) paid)`, q: { p50: open.latency.p50Ms, p99: open.latency.p99Ms } });
    if (direct !== undefined) {
      const less = (ms: number | null): number | null => (ms === null ? null : ms - rtt);
      floors.push({ label: 'no proxy with a new connection, less its round trip (direct − RTT)', q: { p50: less(direct.latency.p50Ms), p99: less(direct.latency.p99Ms) } });
    }
    const q = targetQuantile(scenario, ctx);
    const limit = rtt + ONE_RTT_TARGET_SLACK_MS;
    const judge = (x: Quantiles): string => {
      const v = q === 'p99' ? x.p99 : x.p50;
      return q === undefined || v === null ? '' : v <= limit ? `: ${q} within the target` : `: ${q} MISSED`;
    };
    lines.push(q === undefined ? `${scenario}:` : `${scenario} (target ${q} ≤ RTT + ${ONE_RTT_TARGET_SLACK_MS} = ${fmt(limit)} ms):`);
    for (const f of floors) lines.push(`  floor, ${f.label}: ${both(f.q, rtt)}${judge(f.q)}`);
    for (const c of accel) {
      const mine = { p50: c.latency.p50Ms, p99: c.latency.p99Ms };
      const over = floors.map((f) => `over ${f.label.includes('direct-open') ? 'direct-open' : 'direct − RTT'} ${diff(mine.p50, f.q.p50)} / ${diff(mine.p99, f.q.p99)}`);
      lines.push(`  ${c.contender}: ${both(mine, rtt)}${judge(mine)} (${over.join(', ')})`);
    }
  }
  return lines;
}
