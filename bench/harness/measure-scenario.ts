// One scenario on one topology: warm the contenders up, scrape their counters
// and CPU, run the workload, scrape again, and turn the differences into cells.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchOptions, ScenarioName } from './bench-args.js';
import { buildCell, type BenchCell } from './bench-result.js';
import type { Contender } from './contender.js';
import { counterDelta, type ProxyCounters } from './prometheus-text.js';
import { SampleSink, timedGet } from './timed-request.js';
import { runBursts, runPoisson, runSequential, sleepUntil, type WorkloadContext } from './workloads.js';

/** Unrecorded requests per contender before measuring (first-request costs: JIT, lazy init). */
const WARMUP_REQUESTS = 2;
/** How long to wait for accelerated pools to fill after the warm-up, ms. */
const POOL_FILL_DEADLINE_MS = 3_000;

interface Snapshot {
  counters: ProxyCounters | undefined;
  cpuMs: number | undefined;
  /** direct https: connections its Agent opened. */
  opened: number | undefined;
}

async function snapshot(c: Contender): Promise<Snapshot> {
  const opened = c.connectionsOpened?.();
  if (c.proxy === undefined) return { counters: undefined, cpuMs: undefined, opened };
  const counters = await c.proxy.counters().catch(() => undefined);
  return { counters, cpuMs: c.proxy.cpuMs(), opened };
}

/** Polls the accelerated proxies' ready gauge until each pool is full (bounded); falls back to a fixed wait when there is no gauge. */
async function waitForPools(contenders: readonly Contender[], rttMs: number, signal: AbortSignal): Promise<void> {
  const accel = contenders.filter((c) => c.poolSize !== undefined && c.proxy !== undefined);
  if (accel.length === 0) return;
  const deadline = performance.now() + POOL_FILL_DEADLINE_MS;
  for (let i = 0; i < 200 && !signal.aborted; i++) {
    const ready = await Promise.all(accel.map((c) => c.proxy!.counters().then((k) => k?.poolReady, () => undefined)));
    if (ready.some((r) => r === undefined)) {
      await sleepUntil(performance.now() + Math.max(200, 3 * rttMs), signal);
      return;
    }
    if (ready.every((r, j) => (r as number) >= accel[j]!.poolSize!)) return;
    if (performance.now() > deadline) return;
    await sleep(25);
  }
}

export interface ScenarioRun {
  scenario: ScenarioName;
  rttMs: number;
  contenders: readonly Contender[];
  options: BenchOptions;
  ctx: WorkloadContext;
}

export async function measureScenario(run: ScenarioRun): Promise<BenchCell[]> {
  const { scenario, contenders, options: o, ctx } = run;
  for (let i = 0; i < WARMUP_REQUESTS && !ctx.signal.aborted; i++) {
    for (const c of contenders) await timedGet(c.target);
  }
  await waitForPools(contenders, run.rttMs, ctx.signal);
  // Let the warm-up's connections go idle past the upstream's timeout where the scenario wants cold ones.
  if (scenario === 'sequential-idle' || scenario === 'burst') await sleepUntil(performance.now() + o.idleGapMs, ctx.signal);

  const sinks = new Map(contenders.map((c) => [c, new SampleSink()] as const));
  const before = await Promise.all(contenders.map(snapshot));
  switch (scenario) {
    case 'sequential-idle':
      await runSequential(contenders, sinks, o.requests, o.idleGapMs, ctx);
      break;
    case 'connection-close':
    case 'https-close':
    case 'ipv6-close':
    case 'https6-close':
    case 'three-servers':
      await runSequential(contenders, sinks, o.requests, 0, ctx);
      break;
    case 'poisson':
    case 'poisson-close':
      await runPoisson(contenders, sinks, o.ratePerSec, o.durationMs, o.seed, ctx);
      break;
    case 'burst':
      await runBursts(contenders, sinks, o.bursts, o.burstSize, o.idleGapMs, ctx);
      break;
  }
  const after = await Promise.all(contenders.map(snapshot));

  return contenders.map((c, i) => {
    const sink = sinks.get(c)!;
    const b = before[i]!;
    const a = after[i]!;
    const counters = a.counters !== undefined && b.counters !== undefined ? counterDelta(b.counters, a.counters) : undefined;
    const cpuMs = a.cpuMs !== undefined && b.cpuMs !== undefined ? a.cpuMs - b.cpuMs : null;
    return buildCell({
      rttMs: run.rttMs,
      scenario,
      contender: c.name,
      samplesMs: sink.samplesMs,
      errors: sink.errorCount,
      kind: c.kind,
      counters,
      cpuMs,
      connectionsOpened: a.opened !== undefined && b.opened !== undefined ? a.opened - b.opened : undefined,
      accelerated: c.proxy?.accelerated() ?? null,
      firstErrors: sink.firstErrors,
    });
  });
}

/** The first errors each contender saw, for the log. */
export function describeErrors(cells: readonly BenchCell[]): string[] {
  return cells.filter((c) => c.latency.errors > 0).map((c) => `RTT ${c.rttMs} ms, ${c.scenario}, ${c.contender}: ${c.latency.errors} failed request(s): ${c.firstErrors.join('; ')}`);
}
