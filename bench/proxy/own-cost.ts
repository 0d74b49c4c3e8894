// The proxy's own cost, on loopback, for contenders run in the same session and
// alternated round by round (the machine is shared: compare within one run):
//   warm: `wrk -t1 -cC -dSs` against a keep-alive upstream; requests/s and the
//         proxy process's CPU time per request (utime + stime from /proc, less
//         sensitive to other load than requests/s);
//   cold: one request after `--gap-ms` of idleness against an upstream that
//         closes every connection; latency through the proxy minus latency of
//         the same request sent straight to the upstream in the same round
//         ("added"), an upper bound of the proxy's own time on the cold path.
// Usage: node dist/bench/proxy/own-cost.js [--base OLD/dist/src/cli.js] [--rounds 3]
//          [--seconds 5] [--connections 64] [--cold 20] [--gap-ms 1000] [--log-dir DIR]
// Needs wrk; synpool runs with its default log level (info), stdout to a file.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { processCpuMs } from '../harness/proc-cpu.js';
import { stopChild, waitForJsonLine } from '../topology/child-output.js';
import { median, quantile } from '../../src/util/stats.js';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    cold: { type: 'string', default: '20' },
    'gap-ms': { type: 'string', default: '1000' },
    'log-dir': { type: 'string' },
    'no-plain': { type: 'boolean', default: false },
  },
});
const rounds = Math.min(10, Number(values.rounds));
const seconds = Math.min(60, Number(values.seconds));
const connections = Math.min(512, Number(values.connections));
const coldCount = Math.min(200, Number(values.cold));
const gapMs = Math.min(5_000, Number(values['gap-ms']));
const logDir = values['log-dir'] ?? mkdtempSync(join(os.tmpdir(), 'own-cost-'));

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const PLAIN = fileURLToPath(new URL('./plain-proxy.js', import.meta.url));
const UPSTREAM = fileURLToPath(new URL('../upstream/http-server.mjs', import.meta.url));

interface Contender {
  name: string;
  child: ChildProcess;
  url: string;
}

let nextPort = 20_000 + Math.floor(Math.random() * 20_000);

async function startUpstream(close: boolean): Promise<{ child: ChildProcess; url: string }> {
  const args = [UPSTREAM, '--host', '127.0.0.1', '--exit-on-stdin-eof', ...(close ? ['--connection-close'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const { listening } = await waitForJsonLine<{ listening: number }>(child, 10_000, 'upstream');
  return { child, url: `http://127.0.0.1:${listening}` };
}

async function waitHttp(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    const ok = await fetch(url).then((r) => r.text().then(() => r.ok), () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer`);
}

async function startSynpool(name: string, cli: string, upstream: string): Promise<Contender> {
  const port = nextPort++;
  const metrics = nextPort++;
  const out = openSync(join(logDir, `${name}-${port}.log`), 'w');
  const child = spawn(process.execPath, [cli, '--upstream', upstream, '--listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${metrics}`], {
    stdio: ['ignore', out, 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/`, child);
  return { name, child, url };
}

async function startPlain(upstream: string): Promise<Contender> {
  const child = spawn(process.execPath, [PLAIN, '--upstream', upstream, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { listening } = await waitForJsonLine<{ listening: number }>(child, 10_000, 'plain proxy');
  return { name: 'plain-proxy', child, url: `http://127.0.0.1:${listening}` };
}

function wrk(url: string): { rps: number; requests: number } {
  const text = execFileSync('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, `${url}/`], { encoding: 'utf8', timeout: (seconds + 20) * 1000 });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(text)?.[1]);
  return { rps, requests };
}

/** One GET on a fresh client connection; ms from the request to the end of the response. */
function timedGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(`${url}/`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - started));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
  });
}

async function contenders(upstream: string): Promise<Contender[]> {
  const list: Contender[] = [];
  if (values.base !== undefined) list.push(await startSynpool('synpool-base', values.base, upstream));
  list.push(await startSynpool('synpool', CLI, upstream));
  if (!values['no-plain']) list.push(await startPlain(upstream));
  return list;
}

const f = (x: number, d = 0): string => x.toFixed(d);

async function warm(): Promise<void> {
  const up = await startUpstream(false);
  const list = await contenders(up.url);
  const res = new Map<string, { rps: number[]; cpuUs: number[] }>(list.map((c) => [c.name, { rps: [], cpuUs: [] }]));
  try {
    for (const c of list) wrk(c.url); // warm-up round, not counted
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? list : [...list].reverse();
      for (const c of order) {
        const before = processCpuMs(c.child.pid!) ?? NaN;
        const { rps, requests } = wrk(c.url);
        const after = processCpuMs(c.child.pid!) ?? NaN;
        res.get(c.name)!.rps.push(rps);
        res.get(c.name)!.cpuUs.push(((after - before) * 1000) / requests);
        process.stderr.write(`warm round ${r + 1} ${c.name}: ${f(rps)} req/s, ${f(((after - before) * 1000) / requests, 1)} µs CPU/request\n`);
      }
    }
  } finally {
    for (const c of list) await stopChild(c.child);
    await stopChild(up.child);
  }
  const plain = res.get('plain-proxy');
  const first = res.get(list[0]!.name)!;
  process.stdout.write(`\nwarm: wrk -t1 -c${connections} -d${seconds}s, ${rounds} alternated rounds (median; min–max)\n\n`);
  process.stdout.write(`| contender | req/s | × plain (per round) | proxy CPU µs/request | CPU × ${list[0]!.name} (per round) |\n|---|---:|---:|---:|---:|\n`);
  for (const [name, v] of res) {
    const ratio = plain === undefined ? '' : f(median(v.rps.map((x, i) => x / plain.rps[i]!)), 2);
    const cpuRatios = v.cpuUs.map((x, i) => x / first.cpuUs[i]!);
    const cpuRatio = `${f(median(cpuRatios), 2)} (${f(Math.min(...cpuRatios), 2)}–${f(Math.max(...cpuRatios), 2)})`;
    process.stdout.write(`| ${name} | ${f(median(v.rps))} (${f(Math.min(...v.rps))}–${f(Math.max(...v.rps))}) | ${ratio} | ${f(median(v.cpuUs), 1)} (${f(Math.min(...v.cpuUs), 1)}–${f(Math.max(...v.cpuUs), 1)}) | ${cpuRatio} |\n`);
  }
}

async function cold(): Promise<void> {
  const up = await startUpstream(true);
  const list = await contenders(up.url);
  const added = new Map<string, number[]>(list.map((c) => [c.name, []]));
  const direct: number[] = [];
  try {
    for (const c of list) await timedGet(c.url);
    for (let i = 0; i < coldCount; i++) {
      await new Promise((r) => setTimeout(r, gapMs));
      const d = await timedGet(up.url);
      direct.push(d);
      for (const c of i % 2 === 0 ? list : [...list].reverse()) {
        await new Promise((r) => setTimeout(r, gapMs));
        added.get(c.name)!.push((await timedGet(c.url)) - d);
      }
    }
  } finally {
    for (const c of list) await stopChild(c.child);
    await stopChild(up.child);
  }
  process.stdout.write(`\ncold: ${coldCount} requests per contender, ${gapMs} ms idle before each, upstream closes every connection; ms added over a direct request (direct p50 ${f(median(direct), 2)} ms)\n\n`);
  process.stdout.write('| contender | added p50 | added p90 | added p99 (max) |\n|---|---:|---:|---:|\n');
  for (const [name, v] of added) {
    process.stdout.write(`| ${name} | ${f(median(v), 2)} | ${f(quantile(v, 0.9), 2)} | ${f(quantile(v, 0.99), 2)} |\n`);
  }
}

if (rounds > 0) await warm();
if (coldCount > 0) await cold();
process.stdout.write(`\nlogs: ${logDir}\n`);
