// Issue 12's load case as a benchmark: wrk -t1 -c64 through synpool (default
// settings, its own process in the client namespace), no added delay, nginx
// with keepalive_timeout 0 so that every request is a new upstream
// connection. Reports requests/s, pool hits, the lowest
// synpool_pool_upstream_reachable seen, raw-socket drops (from
// /proc/PID/net/raw, so any build can be measured) and the pool-hit ratio
// of sequential requests right after the load.
//
// Usage (root; wrk, nginx, iproute2; `npm run build` first):
//   node dist/bench/load/run.js [--seconds 10] [--connections 64] [--runs 2]
//        [--compare-cli OTHER/dist/src/cli.js] [--compare-label before] [--json] [--out FILE]
// --compare-cli runs another build (e.g. a checkout of main) with the same
// load, alternating with this one; each run gets a fresh topology (20 000
// connections leave the client namespace's ports in TIME_WAIT).
import { mkdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startSynpool, type ProxyProcess } from '../harness/proxy-process.js';
import { createTopology, enterNamespace, type Topology } from '../topology/index.js';
import { startNginxUpstream, type UpstreamServer } from '../upstream/index.js';
import { DEFAULT_LOAD, runLoadScenario, type LoadOptions, type LoadResult } from './load-scenario.js';
import { intFlag } from '../int-flag.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: String(DEFAULT_LOAD.durationS) },
    connections: { type: 'string', default: String(DEFAULT_LOAD.connections) },
    runs: { type: 'string', default: '1' },
    'compare-cli': { type: 'string' },
    'compare-label': { type: 'string', default: 'compared build' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const int = (name: string, v: string, lo: number, hi: number): number => intFlag(`--${name}`, v, lo, hi);
const load: LoadOptions = {
  ...DEFAULT_LOAD,
  durationS: int('seconds', values.seconds, 1, 120),
  connections: int('connections', values.connections, 1, 1024),
};
const runs = int('runs', values.runs, 1, 10);
const UPSTREAM_PORT = 8080;
const FRONT_PORT = 18080;

interface Contender {
  readonly label: string;
  readonly cli: string | undefined;
}
const contenders: Contender[] = [{ label: 'this build', cli: undefined }];
if (values['compare-cli']) contenders.push({ label: values['compare-label'], cli: values['compare-cli'] });

interface Row extends LoadResult {
  readonly label: string;
  readonly run: number;
}

async function waitForReadyEntry(proxy: ProxyProcess, port: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
    if (/^synpool_pool_ready\{[^}]*\} [1-9]/m.test(res)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${proxy.label}: no ready pool entry within 5 s`);
}

async function one(c: Contender, run: number): Promise<Row> {
  let topo: Topology | undefined;
  let upstream: UpstreamServer | undefined;
  let proxy: ProxyProcess | undefined;
  let leave: (() => void) | undefined;
  try {
    topo = await createTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'spbl' });
    upstream = await startNginxUpstream(topo, { port: UPSTREAM_PORT, keepaliveTimeoutS: 0 });
    leave = enterNamespace(topo.netnsPath('client'));
    proxy = await startSynpool(topo, {
      label: c.label,
      upstreamUrl: `http://${topo.serverAddr}:${UPSTREAM_PORT}`,
      port: FRONT_PORT,
      metricsPort: FRONT_PORT + 1,
      accel: true,
      ...(c.cli ? { cli: c.cli } : {}),
    });
    await waitForReadyEntry(proxy, FRONT_PORT + 1);
    const metricsUrl = `http://127.0.0.1:${FRONT_PORT + 1}/metrics`;
    const r = await runLoadScenario(topo, 'client', { port: FRONT_PORT, pid: proxy.pid, metrics: () => fetch(metricsUrl).then((x) => x.text()) }, load);
    return { label: c.label, run, ...r };
  } finally {
    await proxy?.stop();
    leave?.();
    await upstream?.stop();
    await topo?.destroy();
  }
}

const fmt = (v: number | null, digits = 0): string => (v === null || Number.isNaN(v) ? '—' : v.toFixed(digits));

function table(rows: Row[]): string {
  const head = '| build | run | req/s | pool hits (in the run) | reachable min (samples) | raw-socket drops | synpool_syn_channel_drops_total | sequential after: pool hits |';
  const sep = '|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) =>
    `| ${r.label} | ${r.run} | ${fmt(r.wrk.requestsPerSec)} | ${r.poolHits} of ${r.wrk.requests} | ${fmt(r.reachableMin)} (${r.reachableSamples}) | ${fmt(r.rawDrops)} | ${fmt(r.channelDrops)} | ${r.sequential.poolHits}/${r.sequential.count} |`,
  );
  return [head, sep, ...lines].join('\n');
}

const rows: Row[] = [];
for (let run = 1; run <= runs; run++) {
  for (const c of contenders) {
    process.stderr.write(`run ${run}/${runs}: ${c.label} (wrk -t${load.threads} -c${load.connections} -d${load.durationS}s)\n`);
    rows.push(await one(c, run));
  }
}
const command = ['node', 'dist/bench/load/run.js', ...process.argv.slice(2)].join(' ');
const result = { bench: 'load', command, node: process.version, kernel: release(), load, rows };
if (values.out) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
}
process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${table(rows)}\n\n_${command} · node ${process.version} · kernel ${release()}_\n`);
