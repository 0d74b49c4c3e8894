// Issue 11's target for a burst larger than the pool: never slower than direct
// at p50 (the pooled part faster, the rest at plain-connect speed). Set beside
// it, in the same scenario, the proxies that connect every request plainly:
// the minimal Node proxy (node-proxy) is the floor of any Node proxy doing
// that, synpool --no-accel is the same code as accel without its pool, nginx
// is the same work in C. Pure: cells in, text out.
import type { BenchCell } from './bench-result.js';
import type { FloorContext } from './round-trip-floor.js';
import { fmt, fmtPercent } from './markdown-table.js';

const PLAIN: ReadonlyArray<{ contender: string; label: string }> = [
  { contender: 'node-proxy', label: 'floor, the minimal Node proxy, plain connects (node-proxy)' },
  { contender: 'no-accel', label: 'synpool --no-accel, plain connects' },
  { contender: 'nginx', label: 'nginx, plain connects' },
];

const signed = (ms: number): string => (ms < 0 ? `− ${fmt(-ms)}` : `+ ${fmt(ms)}`);

export function beyondPoolLines(cells: readonly BenchCell[], ctx: Pick<FloorContext, 'poolSize' | 'burstSize'>): string[] {
  if (typeof ctx.poolSize !== 'number' || ctx.poolSize >= ctx.burstSize) return [];
  const burst = cells.filter((c) => c.scenario === 'burst');
  const direct = burst.find((c) => c.contender === 'direct')?.latency.p50Ms ?? null;
  const accel = burst.filter((c) => c.contender.startsWith('accel'));
  if (direct === null || accel.length === 0) return [];
  const line = (label: string, p50: number | null, extra = ''): string =>
    p50 === null ? `  ${label}: –` : `  ${label}: p50 ${fmt(p50)} ms, direct ${signed(p50 - direct)}${p50 <= direct ? ': within the target' : ': MISSED'}${extra}`;
  const lines = [`burst of ${ctx.burstSize} beyond a pool of ${ctx.poolSize} (target p50 ≤ direct's ${fmt(direct)} ms):`];
  for (const p of PLAIN) {
    const c = burst.find((x) => x.contender === p.contender);
    if (c !== undefined) lines.push(line(p.label, c.latency.p50Ms));
  }
  for (const c of accel) {
    const hits = c.poolHitRatio === null ? '' : ` (${fmtPercent(c.poolHitRatio)} from the pool)`;
    lines.push(line(c.contender, c.latency.p50Ms, hits));
  }
  return lines;
}
