// The chart: a vega-lite spec (pure), compiled to vega and rendered to SVG
// headless with View.toSVG(): no browser, no canvas.
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
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
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

/** SVG text of the chart, rendered headless by vega (no browser, no canvas). */
export async function renderChartSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
