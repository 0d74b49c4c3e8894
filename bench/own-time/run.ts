// `npm run bench:own-time`: the proxy's own time per request from packet
// captures on both sides of it, and warm-path throughput with wrk; synpool,
// synpool --no-accel, the minimal Node proxy, nginx, and the node:http floor,
// in the same run; and the host's idle penalty (idle-penalty.ts). Method: docs/own-time.md. Run as root, after npm run build.
//   node dist/bench/own-time/run.js --quick
//   node dist/bench/own-time/run.js [--requests 50] [--rtt-ms 40] [--seconds 10] [--rounds 3] [--json] [--out FILE]
import { abortOnSignals, writeResultFile } from '../interrupt.js';
import os from 'node:os';
import { startNginxUpstream, type UpstreamServer } from '../upstream/index.js';
import { createTopology, enterNamespace, type Topology, type TopologyOptions } from '../topology/index.js';
import { isOnPath } from '../topology/run-command.js';
import { runColdMode, type ColdRunResult } from './cold-run.js';
import { burstTimeline, timelineLine } from './burst-timeline.js';
import { cpuLine } from './cpu-windows.js';
import {
  COLD_ONLY_CONTENDERS, CONTENDER_NAMES, KEEP_ALIVE_UPSTREAM_CONTENDERS, LOCAL_CONTENDERS, nginxAvailable, startAll, stopAll, WARM_KEEPALIVE_MS,
  type ContenderContext, type ContenderName,
} from './contenders.js';
import { CONTENDER_IDS, OWN_TIME_HELP, OwnTimeUsageError, parseOwnTimeArgs, type OwnTimeOptions } from './own-time-args.js';
import { coldTable, throughputTable, verdicts } from './own-time-report.js';
import { runThroughput, type ThroughputRow } from './throughput-run.js';
import { IDLE_PENALTY_PLAN, IDLE_PENALTY_PLAN_QUICK, measureIdlePenalty, type IdlePenaltyProbe } from './idle-penalty.js';

/** nginx upstreams need a fixed port; free in a fresh namespace. */
const UPSTREAM_PORT = 18081;
const WARM_UPSTREAM_PORT = 18082;
/** The local contenders' upstream, on the client namespace's loopback. */
const LOCAL_UPSTREAM_PORT = 18083;
const FIRST_PROXY_PORT = 21_000;
const TIGHT_BATCH = 10;
const COLD_WARMUP = 2;

const note = (line: string): void => void process.stderr.write(`own-time: ${line}\n`);

/** Set while this thread is inside a topology's client namespace. */
let leaveCurrent: (() => void) | undefined;

/**
 * Back to the original namespace. The signal handler calls it first: bench/topology's
 * exit hook SIGKILLs every process inside the namespaces when the process exits (a
 * second signal), and a thread still inside the client namespace makes this process
 * one of them (seen: exit 137, namespaces and nginx workers left behind).
 */
function leaveClientNamespace(): void {
  const leave = leaveCurrent;
  leaveCurrent = undefined;
  leave?.();
}

async function withTopology<T>(opts: TopologyOptions, fn: (topo: Topology) => Promise<T>): Promise<T> {
  const topo = await createTopology(opts);
  try {
    // The readiness checks and the request client run on this thread, inside the client namespace.
    leaveCurrent = enterNamespace(topo.netnsPath('client'));
    return await fn(topo);
  } finally {
    leaveClientNamespace();
    await topo.destroy();
  }
}

async function withContenders<T>(
  topo: Topology,
  upstream: UpstreamServer,
  warmUpstream: UpstreamServer | undefined,
  localUpstream: UpstreamServer | undefined,
  names: readonly ContenderName[],
  o: Pick<OwnTimeOptions, 'poolSize' | 'synpoolCli' | 'synpoolWorkers'>,
  fn: (c: Awaited<ReturnType<typeof startAll>>) => Promise<T>,
): Promise<T> {
  let next = FIRST_PROXY_PORT;
  const ctx: ContenderContext = {
    topo,
    upstream: { addr: topo.serverAddr, port: upstream.port },
    warmUpstream: warmUpstream && { addr: topo.serverAddr, port: warmUpstream.port },
    localUpstream: localUpstream && { addr: '127.0.0.1', port: localUpstream.port },
    poolSize: o.poolSize,
    synpoolCli: o.synpoolCli,
    synpoolWorkers: o.synpoolWorkers,
    port: () => next++,
  };
  const contenders = await startAll(names, ctx);
  try {
    return await fn(contenders);
  } finally {
    await stopAll(contenders);
  }
}

async function coldPart(o: OwnTimeOptions, names: readonly ContenderName[], signal: AbortSignal): Promise<{ runs: ColdRunResult[]; link: string; measuredRttMs: number }> {
  return withTopology({ oneWayDelayMs: o.rttMs / 2, link: 'vde', prefix: 'owtcold' }, async (topo) => {
    note(`cold path: vde link, measured RTT ${topo.measuredRttMs.toFixed(1)} ms; nginx upstream, keepalive_timeout 0`);
    const upstream = await startNginxUpstream(topo, { port: UPSTREAM_PORT, keepaliveTimeoutS: 0 });
    let warmUpstream: UpstreamServer | undefined;
    let localUpstream: UpstreamServer | undefined;
    try {
      if (names.some((n) => KEEP_ALIVE_UPSTREAM_CONTENDERS.includes(n))) {
        note(`warm contenders: a second nginx upstream, keepalive_timeout ${WARM_KEEPALIVE_MS / 1000} s`);
        warmUpstream = await startNginxUpstream(topo, { port: WARM_UPSTREAM_PORT, keepaliveTimeoutS: WARM_KEEPALIVE_MS / 1000 });
      }
      if (names.some((n) => LOCAL_CONTENDERS.includes(n))) {
        note('local contenders: a third nginx upstream on the client loopback, keepalive_timeout 0');
        localUpstream = await startNginxUpstream(topo, { port: LOCAL_UPSTREAM_PORT, keepaliveTimeoutS: 0, ns: 'client', host: '127.0.0.1' });
      }
      return await withContenders(topo, upstream, warmUpstream, localUpstream, names, o, async (contenders) => {
        const runs: ColdRunResult[] = [];
        for (const mode of o.modes) {
          if (signal.aborted) break;
          // In a burst the loopback upstream answers while the burst is still being parsed, so requests,
          // responses and nginx's own work share the cores at once, unlike across the link: not a floor there.
          const inMode = mode === 'burst' ? contenders.filter((c) => !LOCAL_CONTENDERS.includes(c.name)) : contenders;
          runs.push(
            await runColdMode(topo, inMode, { mode, requests: o.requests, gapMs: o.gapMs, batch: TIGHT_BATCH, burst: o.burst, warmup: COLD_WARMUP, keepPcapDir: o.keepPcap, signal, note }),
          );
        }
        return { runs, link: topo.link, measuredRttMs: topo.measuredRttMs };
      });
    } finally {
      await localUpstream?.stop();
      await warmUpstream?.stop();
      await upstream.stop();
    }
  });
}

async function throughputPart(o: OwnTimeOptions, names: readonly ContenderName[], signal: AbortSignal): Promise<ThroughputRow[]> {
  return withTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'owtwrk' }, async (topo) => {
    note('throughput: veth link (0 ms added); nginx upstream, keep-alive');
    const upstream = await startNginxUpstream(topo, { port: UPSTREAM_PORT });
    try {
      // The warm and local contenders are the cold modes' references; here every contender's upstream keeps
      // connections open, so the relay and lean floors take the same one.
      const plain = names.filter((n) => !COLD_ONLY_CONTENDERS.includes(n));
      return await withContenders(topo, upstream, upstream, undefined, plain, o, (contenders) =>
        runThroughput(topo, contenders, { seconds: o.seconds, rounds: o.rounds, connections: o.connections, warmupSeconds: o.quick ? 1 : 3, signal, note }),
      );
    } finally {
      await upstream.stop();
    }
  });
}

export async function main(argv: readonly string[]): Promise<number> {
  let o: OwnTimeOptions;
  try {
    o = parseOwnTimeArgs(argv);
  } catch (err) {
    if (err instanceof OwnTimeUsageError) {
      process.stderr.write(`own-time: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (o.help) {
    process.stdout.write(OWN_TIME_HELP);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('own-time: run as root (network namespaces, packet capture, raw sockets for the pool)\n');
    return 2;
  }
  const missing = ['ip', 'tcpdump', ...(o.parts.throughput ? ['wrk'] : []), ...(o.parts.cold ? ['vde_switch', 'wirefilter'] : [])].filter((t) => !isOnPath(t));
  if (missing.length > 0) {
    process.stderr.write(`own-time: missing on PATH: ${missing.join(', ')} (sh scripts/ensure-system-packages.sh installs them)\n`);
    return 2;
  }
  const wanted = new Set(o.contenders.map((id) => CONTENDER_NAMES[CONTENDER_IDS.indexOf(id)]));
  const names = CONTENDER_NAMES.filter((n) => wanted.has(n) && (n !== 'nginx' || nginxAvailable()));
  if (wanted.has('nginx') && !nginxAvailable()) note('nginx not found: running without the nginx contender');

  const abort = abortOnSignals('own-time', leaveClientNamespace);

  const started = performance.now();
  // The machine's load when the run began: figures from a busy machine are not comparable with a quiet one's.
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  try {
    // First, before any contender or capture runs: nothing else of this bench wakes the cores in the probe's pauses.
    let idlePenalty: IdlePenaltyProbe | undefined;
    if (o.parts.machine) {
      note('machine: the same CPU work back to back and after 40 ms and 1 s of idleness');
      idlePenalty = await measureIdlePenalty(o.quick ? IDLE_PENALTY_PLAN_QUICK : IDLE_PENALTY_PLAN, abort.signal);
    }
    const cold = o.parts.cold && !abort.signal.aborted ? await coldPart(o, names, abort.signal) : undefined;
    const throughput = o.parts.throughput && !abort.signal.aborted ? await throughputPart(o, names, abort.signal) : [];
    if (abort.signal.aborted) return 130;

    const runs = cold?.runs ?? [];
    const v = verdicts(runs, throughput, cold ? { burst: o.burst, poolSize: o.poolSize, measuredRttMs: cold.measuredRttMs } : undefined, idlePenalty);
    const burstRun = runs.find((r) => r.mode === 'burst');
    const timelines = (burstRun?.results ?? []).flatMap((x) => {
      const t = burstTimeline(x.records);
      return t === undefined ? [] : [{ contender: x.contender, ...t }];
    });
    const problems = runs.flatMap((r) =>
      r.results.flatMap((x) => [
        ...x.unmatched.map((u) => `${r.mode} ${x.contender}: ${u.id === undefined ? '' : `/own-time/${u.id}: `}${u.reason}`),
        ...x.clientErrors.map((e) => `${r.mode} ${x.contender}: ${e}`),
      ]),
    );
    const drops = [
      ...runs.filter((r) => (r.capture.droppedByKernel ?? 0) > 0).map((r) => `${r.mode} capture: ${r.capture.droppedByKernel} packets dropped by the kernel`),
      ...runs.filter((r) => r.capture.truncated > 0).map((r) => `${r.mode} capture: ${r.capture.truncated} segments longer than the snap length, not decoded`),
    ];
    const command = ['node', 'dist/bench/own-time/run.js', ...argv].join(' ');
    const elapsedS = Math.round((performance.now() - started) / 100) / 10;

    const md: string[] = [];
    if (cold) {
      md.push(`### Own time per request, ms (RTT ${o.rttMs} ms nominal, ${cold.measuredRttMs.toFixed(1)} ms measured, ${cold.link} link; upstream closes every connection${o.synpoolWorkers === undefined ? '' : `; synpool --workers ${o.synpoolWorkers}`}; ${o.requests} requests per contender and mode${o.modes.includes('burst') ? ` (burst: ${Math.ceil(o.requests / o.burst)} × ${o.burst} at once)` : ''}; idle = ≥ ${o.gapMs} ms of silence before each; synpool pool ${o.poolSize})\n`);
      md.push(coldTable(runs));
      md.push('');
      const sent = runs.reduce((a, r) => a + r.results.reduce((b, x) => b + x.summary.sent, 0), 0);
      const matched = runs.reduce((a, r) => a + r.results.reduce((b, x) => b + x.summary.matched, 0), 0);
      md.push(`matching: ${matched}/${sent} requests matched by their /own-time/N request line on both sides of the proxy${problems.length ? `; ${problems.length} problem(s) listed below` : ''}.`);
      md.push('');
    }
    if (throughput.length) {
      md.push(`### Warm path: wrk -t1 -c${o.connections} -d${o.seconds}s, ${o.rounds} round(s), veth link, keep-alive nginx upstream\n`);
      md.push(throughputTable(throughput));
      md.push('');
    }
    md.push(...v.lines.map((l) => `- ${l}`));
    md.push(...timelines.map((t) => `- ${timelineLine(t.contender, t)}`));
    for (const r of runs) {
      const rows = r.results.flatMap((x) => (x.cpu === undefined ? [] : [cpuLine(x.contender, x.cpu)]));
      if (rows.length) md.push(`- CPU per request, ${r.mode}, ms on a core while in flight / over the whole mode (idle gaps, refreshes, replacements): ${rows.join(' · ')}`);
    }
    for (const p of [...problems, ...drops]) md.push(`- problem: ${p}`);
    for (const r of runs) if (r.capture.kept) md.push(`- ${r.mode} capture kept: ${r.capture.kept}`);
    md.push('');
    md.push(`_${command} · ${elapsedS} s · node ${process.version} · kernel ${os.release()} · ${os.cpus().length} CPUs · load average at start ${loadAtStart.join(' ')} · ${new Date().toISOString()}_`);
    const table = `${md.join('\n')}\n`;

    const result = {
      bench: 'own-time',
      date: new Date().toISOString(),
      command,
      node: process.version,
      kernel: os.release(),
      cpus: os.cpus().length,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100),
      elapsedS,
      options: o,
      link: cold ? { kind: cold.link, measuredRttMs: Math.round(cold.measuredRttMs * 100) / 100 } : undefined,
      cold: runs.map((r) => ({ mode: r.mode, capture: r.capture, results: r.results })),
      throughput,
      machine: idlePenalty && { idlePenalty },
      verdicts: { ...v, lines: undefined },
      burstTimelines: timelines,
      problems: [...problems, ...drops],
    };
    writeResultFile(o.out, `${JSON.stringify(result, null, 2)}\n`);
    const mdPath = o.out.replace(/\.json$/, '') + '.md';
    writeResultFile(mdPath, table);
    process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : table);
    note(`wrote ${o.out} and ${mdPath}`);
    if (problems.length > 0) {
      note(`${problems.length} request(s) not matched or failed: see the list above`);
      return 1;
    }
    return 0;
  } catch (err) {
    if (abort.signal.aborted) return 130;
    process.stderr.write(`own-time: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    abort.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Whatever still holds the event loop (a straggling socket) must not keep a finished run alive.
setTimeout(() => process.exit(code), 3_000).unref();
