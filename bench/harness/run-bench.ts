// The two runs: compare (every contender × scenario × RTT) and the pool-size
// sweep. Each topology lives only inside topologyScope(), which tears it down
// (proxies, upstreams, namespaces, delay line) however the scope ends.
import { existsSync } from 'node:fs';
import type { BenchOptions, ContenderName, ScenarioName } from './bench-args.js';
import { smallestSufficientSize, type BenchCell } from './bench-result.js';
import { contendersFor, PortAllocator, startContender, stopContenders, upstreamVariantFor, type Contender } from './contender.js';
import { describeErrors, measureScenario } from './measure-scenario.js';
import type { Progress } from './progress.js';
import { NGINX_BIN } from './proxy-process.js';
import { UpstreamSet } from './upstream-set.js';
import { expectedRequests } from './workloads.js';
import { createTopology, enterNamespace, type LinkKind, type Topology } from '../topology/index.js';
import { isOnPath } from '../topology/run-command.js';

export interface TopologyInfo {
  rttMs: number;
  measuredRttMs: number;
  link: LinkKind;
}

interface Scope {
  topo: Topology;
  upstreams: UpstreamSet;
  ports: PortAllocator;
}

/** Leaves the client namespace of the current topology, if this thread is in one. */
let leaveCurrent: (() => void) | undefined;

/**
 * For a signal handler, synchronously: bench/topology's exit hook SIGKILLs every
 * process inside a topology's namespaces, and while this thread is in the
 * client namespace that includes the harness itself.
 */
export function leaveClientNamespace(): void {
  const leave = leaveCurrent;
  leaveCurrent = undefined;
  leave?.();
}

/** Builds a topology for `rttMs`, enters its client namespace on this thread, runs `body`, and always cleans up. */
async function topologyScope<T>(rttMs: number, o: BenchOptions, progress: Progress, body: (s: Scope) => Promise<T>): Promise<{ info: TopologyInfo; value: T }> {
  progress.phase(`RTT ${rttMs} ms: building the topology`);
  // IPv6 addresses beside the IPv4 ones only when a scenario needs them: the IPv4 scenarios see the same topology as before.
  const v6 = (s: string | undefined): boolean => s === 'ipv6-close' || s === 'https6-close';
  const ip = o.scenarios.some(v6) || v6(o.sweepWorkload) ? 'dual' : 'v4';
  const topo = await createTopology({ oneWayDelayMs: rttMs / 2, link: o.link, prefix: 'synbench', ip });
  let leave: (() => void) | undefined;
  const upstreams = new UpstreamSet(topo, o.upstreamServer, o.upstreamIdleTimeoutMs);
  try {
    progress.note(`RTT ${rttMs} ms: topology ${topo.name}, link ${topo.link}, measured connect RTT ${topo.measuredRttMs.toFixed(1)} ms`);
    // The load generator and the /metrics scrapes run on this thread, from inside the client namespace.
    leave = enterNamespace(topo.netnsPath('client'));
    leaveCurrent = leave;
    const value = await body({ topo, upstreams, ports: new PortAllocator() });
    return { info: { rttMs, measuredRttMs: topo.measuredRttMs, link: topo.link }, value };
  } finally {
    leaveCurrent = undefined;
    leave?.();
    await upstreams.stopAll().catch(() => undefined);
    await topo.destroy().catch((err: Error) => progress.note(`warning: ${err.message}`));
  }
}

export interface RunContext {
  signal: AbortSignal;
  progress: Progress;
}

/** Contenders that can run here (nginx only where /usr/sbin/nginx exists). */
export function availableContenders(o: BenchOptions, note: (t: string) => void): ContenderName[] {
  return o.contenders.filter((c) => {
    if (c === 'nginx' && !existsSync(NGINX_BIN)) {
      note(`skipping the nginx contender: ${NGINX_BIN} not found`);
      return false;
    }
    return true;
  });
}

/** Scenarios that can run here: https-close and https6-close need nginx (their origin) and openssl (its certificates). */
export function availableScenarios(o: BenchOptions, note: (t: string) => void): ScenarioName[] {
  return o.scenarios.filter((s) => {
    if (s !== 'https-close' && s !== 'https6-close') return true;
    const missing = [existsSync(NGINX_BIN) ? undefined : NGINX_BIN, isOnPath('openssl') ? undefined : 'openssl'].filter((m) => m !== undefined);
    if (missing.length > 0) note(`skipping the ${s} scenario: ${missing.join(' and ')} not found`);
    return missing.length === 0;
  });
}

async function startAll(starts: ReadonlyArray<() => Promise<Contender>>): Promise<Contender[]> {
  const started: Contender[] = [];
  try {
    // One after the other: starts do not compete for CPU, and a failure leaves a short list to stop.
    for (const start of starts) started.push(await start());
    return started;
  } catch (err) {
    await stopContenders(started);
    throw err;
  }
}

async function runScenario(scope: Scope, scenario: ScenarioName, rttMs: number, starts: ReadonlyArray<() => Promise<Contender>>, o: BenchOptions, run: RunContext): Promise<BenchCell[]> {
  run.progress.phase(`RTT ${rttMs} ms · ${scenario}: starting ${starts.length} contender(s)`);
  const contenders = await startAll(starts);
  try {
    const noPool = contenders.filter((c) => c.proxy?.accelerated() === false && c.poolSize !== undefined);
    for (const c of noPool) run.progress.note(`warning: ${c.name} runs without a pool (synpool logged that none is wired in); its numbers are plain connects`);
    run.progress.phase(`RTT ${rttMs} ms · ${scenario}`);
    const cells = await measureScenario({ scenario, rttMs, contenders, options: o, ctx: { signal: run.signal, onRequest: () => run.progress.tick() } });
    for (const line of describeErrors(cells)) run.progress.note(`warning: ${line}`);
    return cells;
  } finally {
    await stopContenders(contenders);
  }
}

export interface CompareResult {
  topologies: TopologyInfo[];
  cells: BenchCell[];
  contenders: ContenderName[];
}

export async function runCompare(o: BenchOptions, run: RunContext): Promise<CompareResult> {
  const names = availableContenders(o, (t) => run.progress.note(t));
  const scenarios = availableScenarios(o, (t) => run.progress.note(t));
  const extra = o.compareCli !== undefined ? 1 : 0;
  const perRtt = scenarios.reduce((sum, s) => sum + expectedRequests(s, o) * (contendersFor(s, names).length + extra), 0);
  run.progress.addToTotal(perRtt * o.rttsMs.length);
  const topologies: TopologyInfo[] = [];
  const cells: BenchCell[] = [];
  for (const rttMs of o.rttsMs) {
    if (run.signal.aborted) break;
    const { info, value } = await topologyScope(rttMs, o, run.progress, async (scope) => {
      const out: BenchCell[] = [];
      for (const scenario of scenarios) {
        if (run.signal.aborted) break;
        const starts = contendersFor(scenario, names).flatMap((name) => {
          const base = { topo: scope.topo, upstreams: scope.upstreams, ports: scope.ports, scenario, name, poolSize: o.poolSize, responseBytes: o.responseBytes };
          const start = (): Promise<Contender> => startContender(base);
          // The other build runs right after this one's accel, so the two alternate request by request.
          if (name !== 'accel' || o.compareCli === undefined) return [start];
          const cli = o.compareCli;
          return [start, () => startContender({ ...base, cli, label: `accel ${o.compareLabel}` })];
        });
        out.push(...(await runScenario(scope, scenario, rttMs, starts, o, run)));
      }
      return out;
    });
    topologies.push(info);
    cells.push(...value);
  }
  return { topologies, cells, contenders: names };
}

export interface SweepResult {
  topology: TopologyInfo;
  workload: ScenarioName;
  rows: Array<{ poolSize: number; cell: BenchCell }>;
  /** The smallest size with ≥ 99 % pool hits, if any. */
  best: { poolSize: number; cell: BenchCell } | undefined;
}

/** Hit ratio a pool size must reach to count as enough. */
export const SWEEP_TARGET_HIT_RATIO = 0.99;

export async function runSweep(o: BenchOptions, run: RunContext): Promise<SweepResult> {
  const rttMs = o.rttsMs[0]!;
  const workload = o.sweepWorkload;
  run.progress.addToTotal(expectedRequests(workload, o) * o.sweepSizes.length);
  // Keep-alive defeated: every request needs a new connection, so each one asks the pool.
  const variant = upstreamVariantFor(workload, 'no-accel');
  const { info, value } = await topologyScope(rttMs, o, run.progress, async (scope) => {
    const starts = o.sweepSizes.map(
      (size) => () =>
        startContender({ topo: scope.topo, upstreams: scope.upstreams, ports: scope.ports, scenario: workload, name: 'accel', poolSize: size, label: `accel pool=${size}`, variant }),
    );
    return runScenario(scope, workload, rttMs, starts, o, run);
  });
  const rows = o.sweepSizes.map((poolSize, i) => ({ poolSize, cell: value[i]! })).filter((r) => r.cell !== undefined);
  return { topology: info, workload, rows, best: smallestSufficientSize(rows, SWEEP_TARGET_HIT_RATIO) };
}
