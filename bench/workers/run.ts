// `npm run bench:workers`: warm-path requests/s with wrk through synpool with 1
// and N worker processes and nginx with worker_processes 1 and N, in the same
// run, alternating rounds, one keep-alive nginx upstream over a veth pair (0 ms
// added). Issue 10's target: synpool --workers N >= 0.4 x nginx with N workers.
// Method: docs/own-time.md ("Workers"). Run as root, after npm run build.
//   node dist/bench/workers/run.js --quick
//   node dist/bench/workers/run.js [--workers N|auto] [--seconds 10] [--rounds 3] [--connections 64] [--json] [--out FILE]
import { abortOnSignals, writeResultFile } from '../interrupt.js';
import os from 'node:os';
import { startNginxProxy, startSynpool, type ProxyProcess } from '../harness/proxy-process.js';
import { startNginxUpstream } from '../upstream/index.js';
import { createTopology, enterNamespace, type Topology } from '../topology/index.js';
import { isOnPath } from '../topology/run-command.js';
import { childrenOf } from '../topology/process-table.js';
import { processTreeCpuByProcessMs, processTreeCpuMs } from '../harness/proc-cpu.js';
import { nginxAvailable } from '../own-time/contenders.js';
import { runThroughput, type ThroughputContender, type ThroughputRow } from '../own-time/throughput-run.js';
import { WORKERS_HELP, WorkersUsageError, parseWorkersArgs, type WorkersOptions } from './workers-args.js';
import { contenderName, cpuByProcessLines, requestSourceLines, workersTable, workersVerdicts, type WorkersRole } from './workers-report.js';

/** nginx upstreams need a fixed port; free in a fresh namespace. */
const UPSTREAM_PORT = 18081;
const FIRST_PROXY_PORT = 21_000;
const ROLES: readonly WorkersRole[] = ['synpool1', 'synpoolN', 'nginx1', 'nginxN'];

const note = (line: string): void => void process.stderr.write(`workers: ${line}\n`);

/** Set while this thread is inside the topology's client namespace (see bench/own-time/run.ts). */
let leaveCurrent: (() => void) | undefined;
function leaveClientNamespace(): void {
  const leave = leaveCurrent;
  leaveCurrent = undefined;
  leave?.();
}

interface WorkersContender extends ThroughputContender {
  readonly role: WorkersRole;
  readonly process: ProxyProcess;
  /** Processes behind it: nginx master + workers, synpool supervisor + keeper + workers. */
  readonly processes: number;
  /** synpool: synpool_acceleration_enabled at start (undefined when not exposed); nginx: null. */
  readonly accelerated: boolean | null | undefined;
}

async function startContender(role: WorkersRole, o: WorkersOptions, topo: Topology, upstreamPort: number, port: () => number): Promise<WorkersContender> {
  const name = contenderName(role, o.workers);
  const workers = role === 'synpool1' || role === 'nginx1' ? 1 : o.workers;
  const listen = port();
  let p: ProxyProcess;
  let accelerated: boolean | null | undefined = null;
  if (role.startsWith('synpool')) {
    p = await startSynpool(topo, { label: name, upstreamUrl: `http://${topo.serverAddr}:${upstreamPort}`, port: listen, metricsPort: port(), accel: o.accel, workers });
    const enabled = (await p.counters().catch(() => undefined))?.accelerationEnabled;
    accelerated = enabled === undefined ? undefined : enabled > 0;
    if (o.accel && accelerated === false) note(`${name}: started without its pool (no CAP_NET_RAW/CAP_NET_ADMIN?): plain connects; the warm path reuses upstream connections either way`);
  } else {
    p = await startNginxProxy(topo, { label: name, servers: [{ host: topo.serverAddr, port: upstreamPort }], port: listen, workers, upstreamKeepalive: o.nginxKeepalive });
  }
  return {
    role,
    name,
    port: listen,
    process: p,
    processes: 1 + childrenOf(p.pid).length,
    accelerated,
    // Every process of the contender: synpool's supervisor + keeper + workers, nginx's master + workers.
    cpuMs: () => processTreeCpuMs(p.pid),
    cpuByProcessMs: () => processTreeCpuByProcessMs(p.pid),
    ...(p.kind === 'synpool' ? { requestsBySource: async () => (await p.counters())?.requestsBySource } : {}),
  };
}

async function run(o: WorkersOptions, signal: AbortSignal): Promise<{ rows: ThroughputRow[]; contenders: Array<Pick<WorkersContender, 'name' | 'processes' | 'accelerated'>> }> {
  const topo = await createTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'wkrs' });
  const started: WorkersContender[] = [];
  try {
    leaveCurrent = enterNamespace(topo.netnsPath('client'));
    note(`veth link (0 ms added); nginx upstream with worker_processes ${o.upstreamWorkers}, keep-alive; N = ${o.workers}`);
    const upstream = await startNginxUpstream(topo, { port: UPSTREAM_PORT, workers: o.upstreamWorkers });
    try {
      let next = FIRST_PROXY_PORT;
      for (const role of ROLES) {
        if (signal.aborted) break;
        const c = await startContender(role, o, topo, upstream.port, () => next++);
        started.push(c);
        note(`${c.name}: listening on ${c.port}, ${c.processes} process(es)`);
      }
      const rows = signal.aborted
        ? []
        : await runThroughput(topo, started, { seconds: o.seconds, rounds: o.rounds, connections: o.connections, threads: o.threads, warmupSeconds: o.warmupSeconds, signal, note });
      return { rows, contenders: started.map((c) => ({ name: c.name, processes: c.processes, accelerated: c.accelerated })) };
    } finally {
      await Promise.all(started.map((c) => c.process.stop().catch(() => undefined)));
      await upstream.stop();
    }
  } finally {
    leaveClientNamespace();
    await topo.destroy();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let o: WorkersOptions;
  try {
    o = parseWorkersArgs(argv);
  } catch (err) {
    if (err instanceof WorkersUsageError) {
      process.stderr.write(`workers: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (o.help) {
    process.stdout.write(WORKERS_HELP);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('workers: run as root (network namespaces; synpool binds its pool with raw sockets)\n');
    return 2;
  }
  const missing = [...['ip', 'wrk'].filter((t) => !isOnPath(t)), ...(nginxAvailable() ? [] : ['nginx'])];
  if (missing.length > 0) {
    process.stderr.write(`workers: missing on PATH: ${missing.join(', ')} (sh scripts/ensure-system-packages.sh installs them)\n`);
    return 2;
  }

  const abort = abortOnSignals('workers', leaveClientNamespace);

  const started = performance.now();
  // The machine's load when the run began: figures from a busy machine are not comparable with a quiet one's.
  const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
  try {
    const { rows, contenders } = await run(o, abort.signal);
    if (abort.signal.aborted) return 130;
    const v = workersVerdicts(rows, o.workers);
    const command = ['node', 'dist/bench/workers/run.js', ...argv].join(' ');
    const elapsedS = Math.round((performance.now() - started) / 100) / 10;
    const loadAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

    const md: string[] = [];
    md.push(
      `### Workers: wrk -t${o.threads} -c${o.connections} -d${o.seconds}s, ${o.rounds} round(s) alternating, veth link (0 ms added), keep-alive nginx upstream (worker_processes ${o.upstreamWorkers}); nginx proxy keepalive ${o.nginxKeepalive} per worker; synpool ${o.accel ? 'with its pool' : '--no-accel'}\n`,
    );
    md.push(workersTable(rows));
    md.push('');
    md.push(...v.lines.map((l) => `- ${l}`));
    md.push('- CPU: user + system of every process of the contender (synpool: supervisor, keeper, workers; nginx: master, workers) during each round, median over the rounds; 100 % = one core. By process (main = synpool supervisor / nginx master):');
    md.push(...cpuByProcessLines(rows).map((l) => `  - ${l}`));
    const sources = requestSourceLines(rows);
    if (sources.length > 0) md.push('- synpool requests by upstream connection source (its /metrics, during the rounds):', ...sources.map((l) => `  - ${l}`));
    md.push('');
    md.push(`_${command} · ${elapsedS} s · node ${process.version} · kernel ${os.release()} · ${os.cpus().length} CPUs · load average at start ${loadAtStart.join(' ')}, at end ${loadAtEnd.join(' ')} · ${new Date().toISOString()}_`);
    const text = `${md.join('\n')}\n`;

    const result = {
      bench: 'workers',
      date: new Date().toISOString(),
      command,
      node: process.version,
      kernel: os.release(),
      cpus: os.cpus().length,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAtEnd,
      elapsedS,
      options: o,
      contenders,
      throughput: rows,
      verdicts: { ...v, lines: undefined },
    };
    writeResultFile(o.out, `${JSON.stringify(result, null, 2)}\n`);
    const mdPath = `${o.out.replace(/\.json$/, '')}.md`;
    writeResultFile(mdPath, text);
    process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : text);
    note(`wrote ${o.out} and ${mdPath}`);
    return rows.some((r) => r.rounds.length === 0) ? 1 : 0;
  } catch (err) {
    if (abort.signal.aborted) return 130;
    process.stderr.write(`workers: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  } finally {
    abort.dispose();
  }
}

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Whatever still holds the event loop (a straggling socket) must not keep a finished run alive.
setTimeout(() => process.exit(code), 3_000).unref();
