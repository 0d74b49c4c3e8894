// The pool under load, through the real stack: a vde2 delay line between two
// namespaces, a node:http upstream, and in the client namespace a PoolManager
// (demand sizing) over the real Handshaker. Poisson arrivals at each rate,
// then a burst of simultaneous requests against an idle pool.
//
// Usage (root; vde2 installed; after `npx tsc -p tsconfig.build.json` and
// `cp bench/upstream/http-server.mjs dist/bench/upstream/`):
//   node dist/bench/pool/run.js [--rates 1,10,100] [--seconds 30] [--warmup 10]
//        [--burst 20] [--rtt 40] [--set synRatePerSec=150 ...] [--json] [--out FILE]
// --rtt is the round trip in ms (half of it is added each way).
// --warmup: seconds of arrivals at each rate before the measured --seconds
//   (the demand estimate needs about demandWindowMs to settle).
// --set FIELD=VALUE: any UpstreamPoolConfig field (validated by PoolManager).
import { mkdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { createTopology, enterNamespace, type Topology } from '../topology/index.js';
import { startNodeUpstream, type UpstreamServer } from '../upstream/index.js';
import type { Endpoint } from '../../src/handshake/endpoint.js';
import { Handshaker } from '../../src/handshake/handshaker.js';
import type { UpstreamPoolConfig } from '../../src/pool/pool-config.js';
import type { PoolSnapshot } from '../../src/pool/pool-events.js';
import { PoolManager } from '../../src/pool/pool-manager.js';
import { quantile } from '../../src/util/stats.js';
import { plainRequest, pooledRequest, poissonArrivals, type LoadContext, type RequestSample } from './load.js';
import { formatTable, type PhaseResult } from './report.js';
import { waitUntil } from './wait-until.js';

export interface BenchOptions {
  rates: number[];
  seconds: number;
  warmup: number;
  burst: number;
  rttMs: number;
  overrides: Partial<UpstreamPoolConfig>;
  json: boolean;
  out: string | undefined;
}

const REQUEST_TIMEOUT_MS = 10_000;
/** Baseline (plain, pool untouched) requests per second, about. */
const BASELINE_PER_SEC = 2;

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      rates: { type: 'string', default: '1,10,100' },
      seconds: { type: 'string', default: '30' },
      warmup: { type: 'string', default: '10' },
      burst: { type: 'string', default: '20' },
      rtt: { type: 'string', default: '40' },
      set: { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
  });
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new RangeError(`--${name} must be a number in ${min}..${max}, got '${v}'`);
    return n;
  };
  const rates = values.rates.split(',').filter(Boolean).map((r) => num('rates', r, 0.01, 2_000));
  if (rates.length === 0) throw new RangeError('--rates needs at least one rate');
  const overrides: Record<string, unknown> = {};
  for (const kv of values.set) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new RangeError(`--set expects FIELD=VALUE, got '${kv}'`);
    const raw = kv.slice(eq + 1);
    overrides[kv.slice(0, eq)] = raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return {
    rates,
    seconds: num('seconds', values.seconds, 1, 600),
    warmup: num('warmup', values.warmup, 0, 600),
    burst: Math.round(num('burst', values.burst, 0, 1_000)),
    rttMs: num('rtt', values.rtt, 2, 2_000),
    overrides: overrides as Partial<UpstreamPoolConfig>,
    json: values.json,
    out: values.out,
  };
}

function dist(xs: number[]): { p50: number | null; p99: number | null; n: number } {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return { p50: null, p99: null, n: 0 };
  return { p50: round(quantile(ok, 0.5)), p99: round(quantile(ok, 0.99)), n: ok.length };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function evictedTotal(s: PoolSnapshot): number {
  return Object.values(s.evicted).reduce((a, b) => a + b, 0);
}

function summarize(
  name: string,
  ratePerSec: number | null,
  seconds: number,
  samples: RequestSample[],
  baseline: number[],
  before: PoolSnapshot,
  after: PoolSnapshot,
): PhaseResult {
  const served = samples.filter((s) => s.status === 200).length;
  const hits = samples.filter((s) => s.hit && !s.replayed).length;
  const synsSent = after.synsSent - before.synsSent;
  return {
    phase: name,
    ratePerSec,
    seconds,
    requests: samples.length,
    served,
    failed: samples.length - served,
    hits,
    misses: samples.filter((s) => !s.hit).length,
    replayed: samples.filter((s) => s.replayed).length,
    hitRatio: samples.length === 0 ? null : round((hits / samples.length) * 10_000) / 10_000,
    synsSent,
    synsPerServed: served === 0 ? null : round(synsSent / served),
    expiredUnused: after.expiredUnused - before.expiredUnused,
    evicted: evictedTotal(after) - evictedTotal(before),
    failures: after.failures.timeouts + after.failures.refused - (before.failures.timeouts + before.failures.refused),
    pool: {
      demandPerSec: round(after.demandPerSec),
      computedTarget: after.computedTarget,
      targetReady: after.targetReady,
      ready: after.ready,
      synAckRttMs: after.synAckRtt.ewmaMs === null ? null : round(after.synAckRtt.ewmaMs),
      effectiveTtlMs: after.effectiveTtlMs,
    },
    acquireHitUs: dist(samples.filter((s) => s.hit && !s.replayed).map((s) => s.acquireUs)),
    ttfbHitMs: dist(samples.filter((s) => s.hit && !s.replayed).map((s) => s.ttfbMs)),
    ttfbMissMs: dist(samples.filter((s) => !s.hit).map((s) => s.ttfbMs)),
    ttfbBaselineMs: dist(baseline),
    errors: [...new Set(samples.filter((s) => s.error !== undefined).map((s) => s.error as string))].slice(0, 5),
  };
}

async function settle(inflight: Set<Promise<unknown>>): Promise<void> {
  const deadline = performance.now() + REQUEST_TIMEOUT_MS + 1_000;
  for (let i = 0; i < 1_000 && inflight.size > 0 && performance.now() < deadline; i++) {
    await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => setTimeout(r, 100))]);
  }
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<PhaseResult[]> {
  const opts = parseOptions(argv);
  let topo: Topology | undefined;
  let node: UpstreamServer | undefined;
  let leave: (() => void) | undefined;
  let hs: Handshaker | undefined;
  let pool: PoolManager | undefined;
  const results: PhaseResult[] = [];
  try {
    topo = await createTopology({ oneWayDelayMs: opts.rttMs / 2, link: 'vde', prefix: 'spbench' });
    node = await startNodeUpstream(topo);
    const target: Endpoint = { address: topo.serverAddr, port: node.port };
    leave = enterNamespace(topo.netnsPath('client'));
    hs = Handshaker.create({ targets: [target] });
    const upstream: UpstreamPoolConfig = { ...opts.overrides, target };
    const newPool = async (): Promise<PoolManager> => {
      const p = new PoolManager({ driver: hs!, upstreams: [upstream] });
      p.start();
      await waitUntil('pool warm', () => p.snapshot()[0]!.ready >= p.snapshot()[0]!.targetReady, 10_000);
      return p;
    };
    pool = await newPool();
    const ctx: LoadContext = { pool, target, timeoutMs: REQUEST_TIMEOUT_MS };
    const log = (msg: string): void => {
      if (!opts.json) process.stderr.write(`${msg}\n`);
    };
    log(`topology ${topo.name}: ${topo.link}, measured RTT ${topo.measuredRttMs.toFixed(1)} ms; upstream ${target.address}:${target.port}`);

    for (const rate of opts.rates) {
      const sink = { samples: [] as RequestSample[], baseline: [] as number[], inflight: new Set<Promise<unknown>>() };
      const baselineProbability = Math.min(1, BASELINE_PER_SEC / rate);
      if (opts.warmup > 0) {
        log(`${rate}/s: warmup ${opts.warmup} s`);
        await poissonArrivals(ctx, { ratePerSec: rate, durationMs: opts.warmup * 1000, baselineProbability: 0 }, { ...sink, samples: [], baseline: [] });
      }
      log(`${rate}/s: measuring ${opts.seconds} s`);
      const before = pool.snapshot()[0]!;
      await poissonArrivals(ctx, { ratePerSec: rate, durationMs: opts.seconds * 1000, baselineProbability }, sink);
      const after = pool.snapshot()[0]!;
      await settle(sink.inflight);
      results.push(summarize(`${rate}/s`, rate, opts.seconds, sink.samples, sink.baseline, before, after));
    }

    if (opts.burst > 0) {
      // A fresh pool at its idle size, hit by N requests at the same moment.
      pool.close();
      pool = await newPool();
      const burstCtx: LoadContext = { ...ctx, pool };
      await new Promise((r) => setTimeout(r, 1_000));
      log(`burst of ${opts.burst} against an idle pool (ready ${pool.snapshot()[0]!.ready})`);
      const before = pool.snapshot()[0]!;
      const pending = Array.from({ length: opts.burst }, () => pooledRequest(burstCtx));
      const baseline = [await plainRequest(burstCtx).catch(() => Number.NaN)];
      const samples = await Promise.all(pending);
      await new Promise((r) => setTimeout(r, 5 * opts.rttMs));
      const after = pool.snapshot()[0]!;
      results.push(summarize(`burst ${opts.burst}`, null, 0, samples, baseline, before, after));
    }

    const report = {
      bench: 'pool',
      date: new Date().toISOString(),
      command: `node dist/bench/pool/run.js ${argv.join(' ')}`.trim(),
      node: process.version,
      kernel: release(),
      link: topo.link,
      rttMs: opts.rttMs,
      measuredRttMs: round(topo.measuredRttMs),
      poolConfig: Object.fromEntries(Object.entries(pool.upstreams[0]!).filter(([k]) => k !== 'target')),
      phases: results,
    };
    if (opts.out) {
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
    }
    if (opts.json) console.log(JSON.stringify(report));
    else console.log(formatTable(report));
    return results;
  } finally {
    pool?.close();
    hs?.close();
    leave?.();
    await node?.stop();
    await topo?.destroy();
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
