// The chart: a vega-lite spec (pure), compiled to vega and rendered to SVG
// headless with View.toSVG(): no browser, no canvas. vega and vega-lite are
// optional: when they cannot be imported, the chart is skipped with a note.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchCell } from './bench-result.js';

/** A vega-lite spec: p50 bar, p90–p99 range, per contender; one panel per scenario (rows) and RTT (columns). */
export function chartSpec(cells: readonly BenchCell[], title: string): Record<string, unknown> {
  const scenarios = [...new Set(cells.map((c) => c.scenario))];
  const values = cells
    .filter((c) => c.latency.p50Ms !== null)
    .map((c) => ({ rtt: `RTT ${c.rttMs} ms`, rttMs: c.rttMs, scenario: c.scenario, contender: c.contender, p50: c.latency.p50Ms, p90: c.latency.p90Ms, p99: c.latency.p99Ms }));
  const contenders = [...new Set(values.map((v) => v.contender))];
  // The colour legend names the contenders; no x axis in every panel.
  const x = { field: 'contender', type: 'nominal', sort: contenders, axis: null };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: 'bar: p50 · line: p90 to p99 · ms', anchor: 'start' },
    data: { values },
    facet: {
      row: { field: 'scenario', type: 'nominal', title: null, sort: scenarios, header: { labelOrient: 'top', labelAngle: 0, labelAnchor: 'start', labelFontWeight: 'bold', labelFontSize: 12 } },
      column: { field: 'rtt', type: 'nominal', title: null, sort: { field: 'rttMs' } },
    },
    resolve: { scale: { y: 'independent' } },
    spacing: { row: 12, column: 16 },
    spec: {
      width: 150,
      height: 110,
      layer: [
        {
          mark: { type: 'bar', tooltip: true },
          encoding: {
            x,
            y: { field: 'p50', type: 'quantitative', title: 'ms', scale: { zero: true } },
            color: { field: 'contender', type: 'nominal', sort: contenders, legend: { orient: 'bottom', title: null } },
          },
        },
        {
          mark: { type: 'rule', strokeWidth: 2, color: '#333' },
          encoding: { x, y: { field: 'p90', type: 'quantitative' }, y2: { field: 'p99' } },
        },
        {
          mark: { type: 'tick', color: '#333', thickness: 2, size: 8 },
          encoding: { x, y: { field: 'p99', type: 'quantitative' } },
        },
      ],
    },
  };
}

interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, opts: { renderer: string }) => { toSVG(): Promise<string>; finalize(): void };
}
interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}

/**
 * Imports a package by name from the project, else from BENCH_CHART_MODULES
 * (a node_modules directory, e.g. a scratch install) when that is set.
 */
async function importOptional<T>(name: string): Promise<T | undefined> {
  try {
    return (await import(name)) as T;
  } catch {
    const dir = process.env.BENCH_CHART_MODULES;
    if (!dir) return undefined;
    try {
      const resolved = createRequire(join(dir, 'noop.js')).resolve(name);
      return (await import(pathToFileURL(resolved).href)) as T;
    } catch {
      return undefined;
    }
  }
}

/** SVG text, or undefined (with the reason) when vega / vega-lite are not installed. */
export async function renderChartSvg(spec: Record<string, unknown>): Promise<{ svg: string } | { skipped: string }> {
  const [vega, vl] = await Promise.all([importOptional<VegaModule>('vega'), importOptional<VegaLiteModule>('vega-lite')]);
  if (vega === undefined || vl === undefined) return { skipped: 'vega and vega-lite are not installed (npm i -D vega vega-lite)' };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return { svg: await view.toSVG() };
  } finally {
    view.finalize();
  }
}
