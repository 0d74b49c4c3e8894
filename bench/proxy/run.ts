// synpool against a minimal plain Node proxy (bench/proxy/plain-proxy.ts), both
// in the client namespace, in the same run:
//   1. throughput: veth link (0 ms added), keep-alive upstream, a closed loop of
//      N keep-alive clients for a fixed time, the two proxies alternating rounds;
//   2. latency: 40 ms RTT (vde delay line), an upstream that closes every
//      connection, one request at a time: every request needs a new connection.
// Usage: node dist/bench/proxy/run.js [--concurrency 32] [--seconds 5] [--rounds 2]
//          [--requests 60] [--rtt-ms 40] [--json] [--out FILE]
// Needs root, ip, vde2 (wirefilter, vde_switch); `npm run build` first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { stopChild, waitForJsonLine } from '../topology/child-output.js';
import { createTopology, enterNamespace, type Topology } from '../topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../upstream/index.js';
import { quantile, median } from '../../src/util/stats.js';
import { closedLoop, sequential, type LoadResult } from './load.js';
import { intFlag } from '../int-flag.js';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    requests: { type: 'string', default: '60' },
    'rtt-ms': { type: 'string', default: '40' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const int = (name: string, v: string, lo: number, hi: number): number => intFlag(`--${name}`, v, lo, hi);
const concurrency = int('concurrency', values.concurrency, 1, 512);
const seconds = int('seconds', values.seconds, 1, 120);
const rounds = int('rounds', values.rounds, 1, 10);
const requests = int('requests', values.requests, 10, 2_000);
const rttMs = int('rtt-ms', values['rtt-ms'], 2, 1_000);
if (rttMs % 2 !== 0) throw new Error('--rtt-ms must be even (wirefilter takes whole milliseconds each way)');

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const PLAIN = fileURLToPath(new URL('./plain-proxy.js', import.meta.url));
const WARMUP_MS = 1_000;
/** The pool for part 2: one take per request, about 25 takes/s at 40 ms: a fixed 8 entries, filled before the run starts. */
const POOL = { sizing: 'fixed', targetSize: 8 };

interface Proxy {
  name: string;
  url: string;
  child: ChildProcess;
}

async function startSynpool(topo: Topology, upstream: string, port: number): Promise<Proxy> {
  const config = join(topo.dir, `synpool-${port}.json`);
  writeFileSync(config, JSON.stringify({ upstream, listen: `127.0.0.1:${port}`, metricsListen: `127.0.0.1:${port + 1}`, logLevel: 'warn', pool: POOL }));
  const child = topo.spawn('client', process.execPath, [CLI, '--config', config], { stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = performance.now() + 10_000;
  for (let i = 0; i < 500 && performance.now() < deadline; i++) {
    const ready = await fetch(`http://127.0.0.1:${port + 1}/metrics`).then((r) => r.text(), () => '');
    const m = /^synpool_pool_ready\{[^}]*\} (\d+)/m.exec(ready);
    if (m && Number(m[1]) >= POOL.targetSize) return { name: 'synpool', url: `http://127.0.0.1:${port}`, child };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stopChild(child);
  throw new Error('synpool did not fill its pool within 10 s');
}

async function startPlain(topo: Topology, upstream: string): Promise<Proxy> {
  const child = topo.spawn('client', process.execPath, [PLAIN, '--upstream', upstream, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { listening } = await waitForJsonLine<{ listening: number }>(child, 10_000, 'plain proxy');
  return { name: 'plain undici proxy', url: `http://127.0.0.1:${listening}`, child };
}

interface Row {
  part: string;
  proxy: string;
  requests: number;
  errors: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
}

function row(part: string, proxy: string, runs: LoadResult[]): Row {
  const lat = runs.flatMap((r) => r.latenciesMs);
  const reqs = runs.reduce((a, r) => a + r.requests, 0);
  const secs = runs.reduce((a, r) => a + r.seconds, 0);
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    part,
    proxy,
    requests: reqs,
    errors: runs.reduce((a, r) => a + r.errors, 0),
    rps: Math.round(reqs / secs),
    p50Ms: lat.length ? r2(median(lat)) : NaN,
    p99Ms: lat.length ? r2(quantile(lat, 0.99)) : NaN,
  };
}

async function withTopology<T>(opts: Parameters<typeof createTopology>[0], fn: (topo: Topology) => Promise<T>): Promise<T> {
  const topo = await createTopology(opts);
  let leave: (() => void) | undefined;
  try {
    leave = enterNamespace(topo.netnsPath('client'));
    return await fn(topo);
  } finally {
    leave?.();
    await topo.destroy();
  }
}

const rows: Row[] = [];
let measuredRttMs = NaN;

// Part 1: throughput on the veth link.
await withTopology({ oneWayDelayMs: 0, link: 'veth', prefix: 'spbt' }, async (topo) => {
  let upstream: UpstreamServer | undefined;
  const proxies: Proxy[] = [];
  try {
    upstream = await startNodeUpstream(topo);
    const url = `http://${topo.serverAddr}:${upstream.port}`;
    proxies.push(await startSynpool(topo, url, 18080), await startPlain(topo, url));
    const runs = new Map<string, LoadResult[]>(proxies.map((p) => [p.name, []]));
    for (const p of proxies) await closedLoop({ url: p.url, path: '/', concurrency, durationMs: WARMUP_MS, maxRequests: 1e6 });
    for (let r = 0; r < rounds; r++) {
      // Alternate who goes first, so drift in the machine's load hits both.
      for (const p of r % 2 === 0 ? proxies : [...proxies].reverse()) {
        runs.get(p.name)!.push(await closedLoop({ url: p.url, path: '/', concurrency, durationMs: seconds * 1_000, maxRequests: 5e6 }));
      }
    }
    for (const p of proxies) rows.push(row(`0 ms, keep-alive upstream, ${concurrency} clients`, p.name, runs.get(p.name)!));
  } finally {
    for (const p of proxies) await stopChild(p.child);
    await upstream?.stop();
  }
});

// Part 2: one new upstream connection per request across the delay line.
await withTopology({ oneWayDelayMs: rttMs / 2, link: 'vde', prefix: 'spbl' }, async (topo) => {
  measuredRttMs = topo.measuredRttMs;
  let upstream: UpstreamServer | undefined;
  const proxies: Proxy[] = [];
  try {
    upstream = await startNodeUpstream(topo, { connectionClose: true });
    const url = `http://${topo.serverAddr}:${upstream.port}`;
    proxies.push(await startSynpool(topo, url, 18090), await startPlain(topo, url));
    const runs = new Map<string, LoadResult[]>(proxies.map((p) => [p.name, []]));
    for (const p of proxies) await sequential({ url: p.url, path: '/', count: 3, gapMs: rttMs });
    // Interleaved in batches of 10, so both see the same conditions.
    for (let done = 0; done < requests; done += 10) {
      for (const p of proxies) runs.get(p.name)!.push(await sequential({ url: p.url, path: '/', count: Math.min(10, requests - done), gapMs: rttMs }));
    }
    for (const p of proxies) rows.push(row(`${rttMs} ms RTT, upstream closes every connection, 1 client`, p.name, runs.get(p.name)!));
  } finally {
    for (const p of proxies) await stopChild(p.child);
    await upstream?.stop();
  }
});

const [t1s, t1p, t2s, t2p] = rows as [Row, Row, Row, Row];
const result = {
  bench: 'proxy',
  date: new Date().toISOString(),
  node: process.version,
  kernel: os.release(),
  cpus: os.cpus().length,
  settings: { concurrency, seconds, rounds, requests, rttMs, measuredRttMs: Math.round(measuredRttMs * 100) / 100, pool: POOL },
  rows,
  targets: {
    throughputRatio: Math.round((t1s.rps / t1p.rps) * 1000) / 1000,
    throughputWithin10Percent: t1s.rps >= 0.9 * t1p.rps,
    p99Ratio: Math.round((t1s.p99Ms / t1p.p99Ms) * 1000) / 1000,
    // The bound on the link's real round trip (vde adds ~1 ms each way to the nominal delay) and on the nominal one.
    latencyBoundMs: Math.round((1.1 * measuredRttMs + 1) * 100) / 100,
    synpoolMedianWithinBound: t2s.p50Ms <= 1.1 * measuredRttMs + 1,
    nominalLatencyBoundMs: 1.1 * rttMs + 1,
    synpoolMedianWithinNominalBound: t2s.p50Ms <= 1.1 * rttMs + 1,
    plainMedianInRtts: Math.round((t2p.p50Ms / measuredRttMs) * 100) / 100,
    synpoolMedianInRtts: Math.round((t2s.p50Ms / measuredRttMs) * 100) / 100,
  },
};

if (values.out) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);
}
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`proxy benchmark (node ${result.node}, kernel ${result.kernel}, ${result.cpus} CPUs; measured RTT ${result.settings.measuredRttMs} ms)\n`);
  console.log('| workload | proxy | requests | errors | req/s | p50 ms | p99 ms |');
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.part} | ${r.proxy} | ${r.requests} | ${r.errors} | ${r.rps} | ${r.p50Ms} | ${r.p99Ms} |`);
  const t = result.targets;
  console.log(`\nthroughput: synpool/plain = ${t.throughputRatio} (target ≥ 0.9: ${t.throughputWithin10Percent ? 'met' : 'MISSED'}); p99 synpool/plain = ${t.p99Ratio}`);
  console.log(
    `latency: synpool median ${t2s.p50Ms} ms = ${t.synpoolMedianInRtts} × measured RTT (target ≤ 1.1 × measured RTT + 1 = ${t.latencyBoundMs} ms: ${t.synpoolMedianWithinBound ? 'met' : 'MISSED'}; ` +
      `≤ 1.1 × nominal RTT + 1 = ${t.nominalLatencyBoundMs} ms: ${t.synpoolMedianWithinNominalBound ? 'met' : 'missed'}); plain ${t2p.p50Ms} ms = ${t.plainMedianInRtts} × measured RTT`,
  );
}
