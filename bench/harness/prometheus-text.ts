// A tolerant reader of the Prometheus text format, and the few numbers the
// harness takes from synpool's /metrics. The metric names were still moving
// while the pool was wired in, so matching is by pattern, not by exact name.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g;

/** Every sample in an exposition; comments, blank and unreadable lines are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = Number(m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : m[4]);
    if (Number.isNaN(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(LABEL)) labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** The numbers read from one scrape; undefined where the exposition has no such metric. */
export interface ProxyCounters {
  /** Requests by upstream connection source (reused, pool, plain, none…). */
  requestsBySource: Record<string, number>;
  poolHits: number | undefined;
  poolMisses: number | undefined;
  synsSent: number | undefined;
  /** Half-open entries ready right now, summed over upstreams. */
  poolReady: number | undefined;
  fallbacks: Record<string, number>;
  /** synpool_tls_handshake_duration_seconds: sum (s) and count, every label together (https upstreams). */
  tlsHandshakeSeconds: { sum: number; count: number } | undefined;
  /** synpool_acceleration_enabled (1 with a pool, 0 with plain connects); with --workers the keeper's. */
  accelerationEnabled?: number | undefined;
}

function sumWhere(samples: readonly Sample[], test: (name: string) => boolean): number | undefined {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (!test(s.name)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}

function byLabel(samples: readonly Sample[], test: (name: string) => boolean, labelNames: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samples) {
    if (!test(s.name)) continue;
    const key = labelNames.map((l) => s.labels[l]).find((v) => v !== undefined);
    if (key === undefined) continue;
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

export function readProxyCounters(text: string): ProxyCounters {
  const samples = parsePrometheusText(text).filter((s) => s.name.startsWith('synpool_'));
  // After the prefix: every name starts with synPOOL_, and synpool_processes_ready is no pool's.
  const isPool = (n: string): boolean => n.slice('synpool_'.length).includes('pool');
  return {
    // synpool_request_duration_seconds_count{connection=…} (a histogram's count) or a *_requests_total counter.
    requestsBySource: byLabel(samples, (n) => n.includes('request') && (n.endsWith('_count') || n.endsWith('_total')), ['connection', 'source', 'connection_source']),
    poolHits: sumWhere(samples, (n) => isPool(n) && /_hits?_total$/.test(n)),
    poolMisses: sumWhere(samples, (n) => isPool(n) && /_miss(es)?_total$/.test(n)),
    synsSent: sumWhere(samples, (n) => /_syns?(_sent)?_total$/.test(n)),
    poolReady: sumWhere(samples, (n) => isPool(n) && /_ready(_entries)?$/.test(n)),
    fallbacks: byLabel(samples, (n) => /fallbacks?_total$/.test(n), ['reason']),
    tlsHandshakeSeconds: histogramTotals(samples, 'synpool_tls_handshake_duration_seconds'),
    ...(samples.some((x) => x.name === 'synpool_acceleration_enabled') ? { accelerationEnabled: sumWhere(samples, (n) => n === 'synpool_acceleration_enabled') } : {}),
  };
}

function histogramTotals(samples: readonly Sample[], name: string): { sum: number; count: number } | undefined {
  const count = sumWhere(samples, (n) => n === `${name}_count`);
  const sum = sumWhere(samples, (n) => n === `${name}_sum`);
  return count === undefined || sum === undefined ? undefined : { sum, count };
}

function delta(after: number | undefined, before: number | undefined): number | undefined {
  return after === undefined ? undefined : after - (before ?? 0);
}

function deltaRecord(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** What happened between two scrapes (counters only; poolReady is the later value). */
export function counterDelta(before: ProxyCounters, after: ProxyCounters): ProxyCounters {
  return {
    requestsBySource: deltaRecord(after.requestsBySource, before.requestsBySource),
    poolHits: delta(after.poolHits, before.poolHits),
    poolMisses: delta(after.poolMisses, before.poolMisses),
    synsSent: delta(after.synsSent, before.synsSent),
    poolReady: after.poolReady,
    fallbacks: deltaRecord(after.fallbacks, before.fallbacks),
    tlsHandshakeSeconds:
      after.tlsHandshakeSeconds === undefined
        ? undefined
        : { sum: after.tlsHandshakeSeconds.sum - (before.tlsHandshakeSeconds?.sum ?? 0), count: after.tlsHandshakeSeconds.count - (before.tlsHandshakeSeconds?.count ?? 0) },
  };
}

/** synpool --workers: workers serving now (synpool_processes_ready{role="worker"}); undefined without that metric. */
export function readyWorkers(text: string): number | undefined {
  const s = parsePrometheusText(text).find((x) => x.name === 'synpool_processes_ready' && x.labels['role'] === 'worker');
  return s?.value;
}
