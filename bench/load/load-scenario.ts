// The high-rate scenario of issue 12: wrk opens connections through synpool
// as fast as it can, against an upstream that closes every connection, so each
// request needs a new upstream connection (~2 000/s here, ten times the
// default SYN budget). Meanwhile /metrics is polled: the pool must stay
// reachable and keep serving at its SYN budget; afterwards, sequential
// requests must be pool hits again. Shared by the integration test and the
// benchmark. The caller's thread must be in `side`'s namespace (127.0.0.1 is
// the proxy's loopback).
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsePrometheusText } from '../harness/prometheus-text.js';
import type { Side, Topology } from '../topology/index.js';
import { rawSocketDrops } from './proc-net-raw.js';
import { runWrk } from './wrk.js';
import type { WrkSummary } from './wrk-output.js';

export interface LoadTarget {
  /** The proxy's front port on 127.0.0.1. */
  readonly port: number;
  /** One scrape of its /metrics. */
  metrics(): Promise<string>;
  /** The proxy's pid: /proc/PID/net/raw gives its namespace's raw-socket drops. */
  readonly pid: number | undefined;
}

export interface LoadOptions {
  readonly threads: number;
  readonly connections: number;
  readonly durationS: number;
  /** /metrics is scraped this often during the load. */
  readonly pollEveryMs: number;
  /** GETs one after another once wrk has finished. */
  readonly sequential: number;
}

export const DEFAULT_LOAD: LoadOptions = { threads: 1, connections: 64, durationS: 10, pollEveryMs: 100, sequential: 20 };

export interface LoadResult {
  readonly wrk: WrkSummary;
  /** synpool_pool_hits_total during the wrk run. */
  readonly poolHits: number;
  readonly synsSent: number;
  /** synpool_pool_syn_failures_total during the run, by reason (timeout, refused, answer-dropped, …). */
  readonly synFailures: Record<string, number>;
  /** Lowest synpool_pool_upstream_reachable seen while wrk ran (1: never left 'ok'). */
  readonly reachableMin: number;
  readonly reachableSamples: number;
  /** Scrapes that failed or lacked the gauge. */
  readonly missedSamples: number;
  /** /proc/PID/net/raw drops during the run (all raw sockets of the namespace); null if unreadable. */
  readonly rawDrops: number | null;
  /** synpool_syn_channel_drops_total during the run; null when the build has no such metric. */
  readonly channelDrops: number | null;
  readonly sequential: {
    readonly count: number;
    readonly ok: number;
    readonly poolHits: number;
    /** Requests the pool had no entry for (synpool_pool_misses_total). */
    readonly poolMisses: number;
    /** Requests whose worker gave up waiting for the keeper (synpool_keeper_request_timeouts_total): they connected plainly. */
    readonly keeperTimeouts: number;
  };
}

const SCRAPE_TIMEOUT_MS = 5_000;
const GET_TIMEOUT_MS = 5_000;
/** After the load: up to 12 × 250 ms for in-flight requests to finish. */
const SETTLE_POLLS = 12;
const SETTLE_EVERY_MS = 250;

function sum(text: string, name: string): number | null {
  const samples = parsePrometheusText(text).filter((s) => s.name === name);
  return samples.length === 0 ? null : samples.reduce((a, s) => a + s.value, 0);
}

function byReason(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of parsePrometheusText(text)) if (s.name === name) out[s.labels.reason ?? ''] = (out[s.labels.reason ?? ''] ?? 0) + s.value;
  return out;
}

function getStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: GET_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

async function scrape(target: LoadTarget): Promise<string | undefined> {
  return Promise.race([target.metrics(), sleep(SCRAPE_TIMEOUT_MS).then(() => undefined)]).catch(() => undefined);
}

export async function runLoadScenario(topo: Topology, side: Side, target: LoadTarget, o: LoadOptions = DEFAULT_LOAD): Promise<LoadResult> {
  const before = await scrape(target);
  if (before === undefined) throw new Error('the proxy answers no /metrics before the load');
  const rawBefore = target.pid === undefined ? undefined : rawSocketDrops(target.pid);

  let running = true;
  let reachableMin = Infinity;
  let reachableSamples = 0;
  let missedSamples = 0;
  const poller = (async () => {
    // Bounded like wrk itself: at most one scrape per pollEveryMs for durationS (+ slack).
    const maxPolls = Math.ceil((o.durationS * 1000 + 15_000) / o.pollEveryMs);
    for (let i = 0; running && i < maxPolls; i++) {
      const text = await scrape(target);
      const v = text === undefined ? null : sum(text, 'synpool_pool_upstream_reachable');
      if (v === null) missedSamples++;
      else {
        reachableSamples++;
        reachableMin = Math.min(reachableMin, v);
      }
      await sleep(o.pollEveryMs);
    }
  })();
  let wrk: WrkSummary;
  try {
    wrk = await runWrk(topo, side, { url: `http://127.0.0.1:${target.port}/`, threads: o.threads, connections: o.connections, durationS: o.durationS });
  } finally {
    running = false;
    await poller;
  }
  // Requests wrk left in flight still take entries for a moment: wait until
  // the hit counter stands still (bounded), so the sequential requests are
  // counted alone.
  let after = await scrape(target);
  for (let i = 0; after !== undefined && i < SETTLE_POLLS; i++) {
    await sleep(SETTLE_EVERY_MS);
    const next = await scrape(target);
    if (next === undefined) break;
    const still = sum(next, 'synpool_pool_hits_total') === sum(after, 'synpool_pool_hits_total');
    after = next;
    if (still) break;
  }
  if (after === undefined) throw new Error('the proxy answers no /metrics after the load');
  const rawAfter = target.pid === undefined ? undefined : rawSocketDrops(target.pid);

  let ok = 0;
  for (let i = 0; i < o.sequential; i++) if ((await getStatus(target.port)) === 200) ok++;
  const final = await scrape(target);
  if (final === undefined) throw new Error('the proxy answers no /metrics after the sequential requests');

  const delta = (a: string, b: string, name: string): number => (sum(b, name) ?? 0) - (sum(a, name) ?? 0);
  const dropsBefore = sum(before, 'synpool_syn_channel_drops_total');
  const dropsAfter = sum(after, 'synpool_syn_channel_drops_total');
  return {
    wrk,
    poolHits: delta(before, after, 'synpool_pool_hits_total'),
    synsSent: delta(before, after, 'synpool_pool_syns_sent_total'),
    synFailures: (() => {
      const a = byReason(before, 'synpool_pool_syn_failures_total');
      const b = byReason(after, 'synpool_pool_syn_failures_total');
      return Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    })(),
    reachableMin: reachableSamples === 0 ? NaN : reachableMin,
    reachableSamples,
    missedSamples,
    rawDrops: rawBefore === undefined || rawAfter === undefined ? null : rawAfter - rawBefore,
    channelDrops: dropsBefore === null || dropsAfter === null ? null : dropsAfter - dropsBefore,
    sequential: {
      count: o.sequential,
      ok,
      poolHits: delta(after, final, 'synpool_pool_hits_total'),
      poolMisses: delta(after, final, 'synpool_pool_misses_total'),
      keeperTimeouts: delta(after, final, 'synpool_keeper_request_timeouts_total'),
    },
  };
}
