// The proxy's own time on the cold path, from inside the process: one request after
// `--gap-ms` of idleness, upstream closing every connection (so each request takes a
// pooled connection), builds alternated request by request in one process.
//   request path:  http.server.request.start -> undici:client:sendHeaders (request written upstream;
//                  the TCP_REPAIR handoff included, and reported apart from the pool's 'handoff' event)
//   response path: undici:request:headers (response head parsed) -> http.server.response.finish
// Kernel and wake-up time outside the process is not seen (tcpdump would see it).
// Usage: node dist/bench/proxy/cold-own-time.js [--base OLD/dist/src] [--requests 24] [--gap-ms 1000]
// Root (the pool's raw socket and TCP_REPAIR), loopback only; logs go to stdout.
import dc from 'node:diagnostics_channel';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { waitForJsonLine, stopChild } from '../topology/child-output.js';
import { quantile } from '../../src/util/stats.js';

const { values } = parseArgs({ options: { base: { type: 'string' }, requests: { type: 'string', default: '24' }, 'gap-ms': { type: 'string', default: '1000' } } });
const requests = Math.min(200, Number(values.requests));
const gapMs = Math.min(5_000, Number(values['gap-ms']));
const builds: Record<string, string> = { synpool: fileURLToPath(new URL('../../src', import.meta.url)) };
if (values.base !== undefined) builds['synpool-base'] = values.base;

interface Running {
  address: { port: number };
  agent: { source: { on?(event: 'handoff', fn: (e: { us: number }) => void): void } };
  shutdown(reason: string): Promise<void>;
}

const upstream = spawn(process.execPath, [fileURLToPath(new URL('../upstream/http-server.mjs', import.meta.url)), '--host', '127.0.0.1', '--connection-close', '--exit-on-stdin-eof'], { stdio: ['pipe', 'pipe', 'inherit'] });
const { listening } = await waitForJsonLine<{ listening: number }>(upstream, 10_000, 'upstream');
const { Registry } = await import('prom-client');

let t: { in?: number; out?: number; respIn?: number; respOut?: number; handoff?: number } = {};
const running: Record<string, Running> = {};
for (const [name, dir] of Object.entries(builds)) {
  const load = (rel: string): Promise<Record<string, (...a: unknown[]) => unknown>> => import(pathToFileURL(`${dir}/${rel}`).href);
  const { serve } = await load('cli.js');
  const { validateConfig } = await load('config/schema.js');
  const { resolveUpstream } = await load('config/load-config.js');
  const config = validateConfig!({ upstream: `http://127.0.0.1:${listening}`, listen: '127.0.0.1:0', metricsListen: null, pool: { sizing: 'fixed', targetSize: 4 } }) as { upstream: string };
  const r = (await serve!(config, { registry: new Registry(), handleSignals: false })) as Running;
  r.agent.source.on?.('handoff', (e) => (t.handoff = e.us / 1000));
  running[name] = r;
}
dc.subscribe('http.server.request.start', () => (t.in = performance.now()));
dc.subscribe('undici:client:sendHeaders', () => (t.out ??= performance.now()));
dc.subscribe('undici:request:headers', () => (t.respIn ??= performance.now()));
dc.subscribe('http.server.response.finish', () => (t.respOut = performance.now()));

const get = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
  });

type Row = { req: number; resp: number; own: number; handoff: number };
const rows: Record<string, Row[]> = Object.fromEntries(Object.keys(running).map((n) => [n, []]));
const names = Object.keys(running);
try {
  await new Promise((r) => setTimeout(r, 1_500)); // the pools fill
  for (let i = 0; i < requests + 2; i++) {
    for (const name of i % 2 === 0 ? names : [...names].reverse()) {
      await new Promise((r) => setTimeout(r, gapMs));
      t = {};
      await get(running[name]!.address.port);
      if (i < 2) continue; // first requests: JIT warm-up
      const req = (t.out ?? NaN) - (t.in ?? NaN);
      const resp = (t.respOut ?? NaN) - (t.respIn ?? NaN);
      rows[name]!.push({ req, resp, own: req + resp, handoff: t.handoff ?? NaN });
    }
  }
} finally {
  for (const r of Object.values(running)) await r.shutdown('done');
  await stopChild(upstream);
}
const cell = (v: number[]): string => `${quantile(v, 0.5).toFixed(2)} / ${quantile(v, 0.9).toFixed(2)} / ${Math.max(...v).toFixed(2)}`;
process.stderr.write(`\ncold own time, ms (p50 / p90 / max), ${requests} requests each, ${gapMs} ms idle before each\n\n`);
process.stderr.write('| build | request path | of which handoff | response path | own (sum) |\n|---|---:|---:|---:|---:|\n');
for (const [name, v] of Object.entries(rows)) {
  process.stderr.write(`| ${name} | ${cell(v.map((r) => r.req))} | ${cell(v.map((r) => r.handoff))} | ${cell(v.map((r) => r.resp))} | ${cell(v.map((r) => r.own))} |\n`);
}
process.exit(0);
