// `npm run bench`: synpool against direct connects, plain proxying, keep-alive
// reuse and nginx, over an emulated link (network namespaces + delay line).
// Prints markdown tables on stdout, writes JSON and an SVG chart under
// bench/results/. Progress goes to stderr. Run as root.
// A full comparison (no --scenarios, --contenders or --compare-cli) is followed by
// the proxy's own time and warm-path throughput (bench/own-time; --no-own-time skips it).
//   node dist/bench/harness/main.js --quick
//   node dist/bench/harness/main.js --rtt 10,40,100
//   node dist/bench/harness/main.js --sweep pool-size --sweep-sizes 1,2,4,8,16
import { abortOnSignals, writeResultFile } from '../interrupt.js';
import { writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { BENCH_HELP, BenchUsageError, parseBenchArgs, type BenchOptions } from './bench-args.js';
import { formatResultsTable } from './bench-result.js';
import { ownTimeArgs, runOwnTimePart } from './own-time-part.js';
import { chartSpec, renderChartSvg } from './chart.js';
import { fmt, fmtPercent, formatMarkdownTable } from './markdown-table.js';
import { Progress } from './progress.js';
import { beyondPoolLines } from './beyond-pool-target.js';
import { roundTripFloorLines } from './round-trip-floor.js';
import { leaveClientNamespace, runCompare, runSweep, SWEEP_TARGET_HIT_RATIO, type CompareResult, type SweepResult } from './run-bench.js';

const QUANTILES = 'exact quantiles (nearest rank) over every successful request';

function writeJson(path: string, value: unknown): void {
  writeResultFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

function header(o: BenchOptions, argv: readonly string[], elapsedMs: number): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    command: ['node', 'dist/bench/harness/main.js', ...argv].join(' '),
    node: process.version,
    kernel: release(),
    quantiles: QUANTILES,
    elapsedS: Math.round(elapsedMs / 100) / 10,
    options: o,
  };
}

async function reportCompare(o: BenchOptions, argv: readonly string[], r: CompareResult, elapsedMs: number, progress: Progress): Promise<void> {
  const out: string[] = [];
  const https =
    (r.cells.some((c) => c.scenario === 'https-close') ? ' (https-close: nginx, TLS 1.3, closing every connection)' : '') +
    (r.cells.some((c) => c.scenario === 'ipv6-close') ? ' (ipv6-close: node:http over IPv6, closing every connection)' : '') +
    (r.cells.some((c) => c.scenario === 'https6-close') ? ' (https6-close: nginx, TLS 1.3, over IPv6, closing every connection)' : '') +
    (r.cells.some((c) => c.scenario === 'three-servers') ? ' (three-servers: three node:http servers behind one upstream, closing every connection)' : '');
  out.push(`## synpool benchmark: ${r.contenders.join(', ')}; upstream ${o.upstreamServer}${https}; ${QUANTILES}\n`);
  for (const t of r.topologies) {
    out.push(`### RTT ${t.rttMs} ms (link ${t.link}, measured connect ${t.measuredRttMs.toFixed(1)} ms)\n`);
    const cells = r.cells.filter((c) => c.rttMs === t.rttMs);
    out.push(formatResultsTable(cells));
    out.push('');
    const floor = roundTripFloorLines(cells, { measuredRttMs: t.measuredRttMs, poolSize: o.poolSize, burstSize: o.burstSize });
    if (floor.length > 0) out.push(`One round trip against its floor (RTT = the measured ${t.measuredRttMs.toFixed(1)} ms):\n`, '```', ...floor, '```', '');
    const beyond = beyondPoolLines(cells, { poolSize: o.poolSize, burstSize: o.burstSize });
    if (beyond.length > 0) out.push('A burst larger than the pool against direct and the proxies that connect plainly:\n', '```', ...beyond, '```', '');
  }
  out.push(`_${['node', 'dist/bench/harness/main.js', ...argv].join(' ')} · ${(elapsedMs / 1000).toFixed(0)} s · node ${process.version} · kernel ${release()}_`);
  process.stdout.write(`${out.join('\n')}\n`);

  const base = join(o.outDir, o.quick ? 'bench-quick' : 'bench');
  writeJson(`${base}.json`, { bench: 'compare', ...header(o, argv, elapsedMs), topologies: r.topologies, cells: r.cells });
  progress.note(`wrote ${base}.json`);
  if (o.chart) {
    writeFileSync(`${base}.svg`, await renderChartSvg(chartSpec(r.cells, `synpool: request latency (${o.upstreamServer} upstream)`)));
    progress.note(`wrote ${base}.svg`);
  }
}

function reportSweep(o: BenchOptions, argv: readonly string[], r: SweepResult, elapsedMs: number, progress: Progress): void {
  const table = formatMarkdownTable(
    [
      { header: 'pool size', align: 'right', cell: (x: SweepResult['rows'][number]) => String(x.poolSize) },
      { header: 'n', align: 'right', cell: (x) => String(x.cell.latency.count) + (x.cell.latency.errors ? ` (+${x.cell.latency.errors} err)` : '') },
      { header: 'p50 ms', align: 'right', cell: (x) => fmt(x.cell.latency.p50Ms) },
      { header: 'p99 ms', align: 'right', cell: (x) => fmt(x.cell.latency.p99Ms) },
      { header: 'pool hits', align: 'right', cell: (x) => fmtPercent(x.cell.poolHitRatio) },
      { header: 'SYN/req', align: 'right', cell: (x) => fmt(x.cell.synsPerRequest, 2) },
      { header: 'CPU ms/req', align: 'right', cell: (x) => (x.cell.proxyCpuMs === null || x.cell.latency.count === 0 ? '–' : fmt(x.cell.proxyCpuMs / x.cell.latency.count, 2)) },
      { header: 'pool active', cell: (x) => (x.cell.accelerated === false ? 'no (plain connects)' : 'yes') },
    ],
    r.rows,
  );
  const target = `${SWEEP_TARGET_HIT_RATIO * 100} %`;
  const verdict =
    r.best !== undefined
      ? `smallest pool size with ≥ ${target} hits: ${r.best.poolSize} (${fmt(r.best.cell.synsPerRequest, 2)} SYNs per request)`
      : `no pool size in ${o.sweepSizes.join(',')} reached ${target} hits`;
  const lines = [
    `## pool-size sweep: ${r.workload}, RTT ${r.topology.rttMs} ms (link ${r.topology.link}), keep-alive defeated; ${QUANTILES}\n`,
    table,
    '',
    verdict,
    '',
    `_${['node', 'dist/bench/harness/main.js', ...argv].join(' ')} · ${(elapsedMs / 1000).toFixed(0)} s_`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const path = join(o.outDir, 'sweep-pool-size.json');
  writeJson(path, { bench: 'sweep-pool-size', ...header(o, argv, elapsedMs), topology: r.topology, workload: r.workload, rows: r.rows, best: r.best?.poolSize ?? null, verdict });
  progress.note(`wrote ${path}`);
}

export async function main(argv: readonly string[]): Promise<number> {
  let o: BenchOptions;
  try {
    o = parseBenchArgs(argv);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      process.stderr.write(`bench: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (o.mode === 'help') {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: run as root (it builds network namespaces and a delay line)\n');
    return 2;
  }

  const abort = abortOnSignals('bench', leaveClientNamespace);

  const progress = new Progress(0);
  const started = performance.now();
  try {
    if (o.mode === 'sweep') {
      const r = await runSweep(o, { signal: abort.signal, progress });
      progress.finish();
      if (abort.signal.aborted) return 130;
      reportSweep(o, argv, r, performance.now() - started, progress);
    } else {
      const r = await runCompare(o, { signal: abort.signal, progress });
      progress.finish();
      if (abort.signal.aborted) return 130;
      await reportCompare(o, argv, r, performance.now() - started, progress);
      if (o.ownTime) {
        progress.note(`own time and throughput: node dist/bench/own-time/run.js ${ownTimeArgs(o).join(' ')}`);
        return await runOwnTimePart(o, abort.signal);
      }
    }
    return 0;
  } catch (err) {
    progress.finish();
    if (abort.signal.aborted) return 130;
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    abort.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Whatever still holds the event loop (a straggling socket) must not keep a finished run alive.
setTimeout(() => process.exit(code), 3_000).unref();
