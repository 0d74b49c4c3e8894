import { describe, expect, it } from 'vitest';
import { buildCell, formatResultsTable, smallestSufficientSize } from '../../bench/harness/bench-result.js';
import { summarize } from '../../bench/harness/latency-summary.js';
import { fmt, fmtPercent, formatMarkdownTable } from '../../bench/harness/markdown-table.js';
import { counterDelta, parsePrometheusText, readProxyCounters } from '../../bench/harness/prometheus-text.js';
import { parseProcStatCpuTicks, parseProcStatSystemTicks } from '../../bench/harness/proc-cpu.js';

const METRICS_BEFORE = `# HELP synpool_request_duration_seconds Client request duration
# TYPE synpool_request_duration_seconds histogram
synpool_request_duration_seconds_bucket{le="0.05",connection="pool",status_class="2xx"} 1
synpool_request_duration_seconds_sum{connection="pool",status_class="2xx"} 0.04
synpool_request_duration_seconds_count{connection="pool",status_class="2xx"} 2
synpool_request_duration_seconds_count{connection="reused",status_class="2xx"} 5
synpool_pool_hits_total{upstream="10.0.0.2:80"} 2
synpool_pool_misses_total{upstream="10.0.0.2:80"} 0
synpool_pool_syns_sent_total{upstream="10.0.0.2:80"} 10
synpool_pool_ready{upstream="10.0.0.2:80"} 8
process_cpu_seconds_total 1.5
`;
const METRICS_AFTER = `synpool_request_duration_seconds_count{connection="pool",status_class="2xx"} 12
synpool_request_duration_seconds_count{connection="plain",status_class="2xx"} 3
synpool_request_duration_seconds_count{connection="reused",status_class="2xx"} 5
synpool_request_duration_seconds_count{connection="reused",status_class="5xx"} 1
synpool_pool_hits_total{upstream="10.0.0.2:80"} 12
synpool_pool_misses_total{upstream="10.0.0.2:80"} 3
synpool_pool_syns_sent_total{upstream="10.0.0.2:80"} 26
synpool_pool_ready{upstream="10.0.0.2:80"} 6
synpool_fallbacks_total{reason="pool-empty"} 3
`;

describe('latency summary (exact quantiles)', () => {
  it('nearest-rank p50/p90/p99 over all samples', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 1…100, shuffled order does not matter
    const s = summarize(xs, 2);
    expect(s).toMatchObject({ count: 100, errors: 2, p50Ms: 50, p90Ms: 90, p99Ms: 99, maxMs: 100, meanMs: 50.5 });
  });

  it('no samples: nulls, not NaN', () => {
    expect(summarize([], 3)).toEqual({ count: 0, errors: 3, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null });
  });

  it('a single sample is every quantile', () => {
    expect(summarize([42.123])).toMatchObject({ p50Ms: 42.12, p99Ms: 42.12, maxMs: 42.12 });
  });
});

describe('Prometheus text', () => {
  it('parses names, labels (with escapes) and values; skips comments and junk', () => {
    const s = parsePrometheusText('# HELP x\nfoo{a="1",b="q\\"x"} 3\nbar 4.5 1700000000\nnot a sample\nbaz NaNx\n');
    expect(s).toEqual([
      { name: 'foo', labels: { a: '1', b: 'q"x' }, value: 3 },
      { name: 'bar', labels: {}, value: 4.5 },
    ]);
  });

  it('reads request counts by connection source and the pool counters, and takes deltas', () => {
    const d = counterDelta(readProxyCounters(METRICS_BEFORE), readProxyCounters(METRICS_AFTER));
    expect(d.requestsBySource).toEqual({ pool: 10, plain: 3, reused: 1 });
    expect(d.poolHits).toBe(10);
    expect(d.poolMisses).toBe(3);
    expect(d.synsSent).toBe(16);
    expect(d.poolReady).toBe(6);
    expect(d.fallbacks).toEqual({ 'pool-empty': 3 });
  });

  it('reads the TLS handshake histogram (sum and count over every label) and its delta', () => {
    const before = readProxyCounters('synpool_tls_handshake_duration_seconds_sum{connection="pool",resumed="true"} 0.1\nsynpool_tls_handshake_duration_seconds_count{connection="pool",resumed="true"} 2\n');
    const after = readProxyCounters(
      'synpool_tls_handshake_duration_seconds_sum{connection="pool",resumed="true"} 0.5\nsynpool_tls_handshake_duration_seconds_count{connection="pool",resumed="true"} 6\n' +
        'synpool_tls_handshake_duration_seconds_sum{connection="plain",resumed="false"} 0.1\nsynpool_tls_handshake_duration_seconds_count{connection="plain",resumed="false"} 1\n',
    );
    expect(after.tlsHandshakeSeconds).toEqual({ sum: 0.6, count: 7 });
    const d = counterDelta(before, after);
    expect(d.tlsHandshakeSeconds?.count).toBe(5);
    expect(d.tlsHandshakeSeconds?.sum).toBeCloseTo(0.5);
    expect(readProxyCounters(METRICS_AFTER).tlsHandshakeSeconds).toBeUndefined();
  });

  it('tolerates renamed metrics and missing pool metrics', () => {
    const renamed = readProxyCounters('synpool_requests_total{source="pool"} 4\nsynpool_pool_hit_total 4\nsynpool_pool_miss_total 1\nsynpool_syns_total 9\n');
    expect(renamed).toMatchObject({ requestsBySource: { pool: 4 }, poolHits: 4, poolMisses: 1, synsSent: 9 });
    const plain = readProxyCounters('synpool_request_duration_seconds_count{connection="plain",status_class="2xx"} 7\n');
    expect(plain).toMatchObject({ requestsBySource: { plain: 7 }, poolHits: undefined, poolMisses: undefined, synsSent: undefined, poolReady: undefined });
  });
});

describe('result cells', () => {
  const base = { rttMs: 40, scenario: 'poisson' as const, samplesMs: [10, 20, 30, 40] };

  it('synpool: new connections = pool + plain, hit ratio from the pool counters, SYNs per request', () => {
    const counters = counterDelta(readProxyCounters(METRICS_BEFORE), readProxyCounters(METRICS_AFTER));
    const c = buildCell({ ...base, contender: 'accel', errors: 0, kind: 'synpool', counters, cpuMs: 20, accelerated: true });
    expect(c.newConnections).toBe(13);
    expect(c.poolHitRatio).toBeCloseTo(10 / 13);
    expect(c.synsPerRequest).toBe(4);
    expect(c.proxyCpuMs).toBe(20);
  });

  it('direct: every request is a new connection, no proxy numbers', () => {
    const c = buildCell({ ...base, contender: 'direct', errors: 1, kind: 'direct' });
    expect(c).toMatchObject({ newConnections: 5, poolHitRatio: null, synsPerRequest: null, proxyCpuMs: null, connectionSources: null });
  });

  it('direct: the connections it counted, where it counts them (https)', () => {
    expect(buildCell({ ...base, contender: 'direct', errors: 0, kind: 'direct', connectionsOpened: 3 }).newConnections).toBe(3);
  });

  it('synpool to an https upstream: the mean TLS handshake, and a TLS column only then', () => {
    const counters = counterDelta(readProxyCounters(''), readProxyCounters('synpool_tls_handshake_duration_seconds_sum 0.3\nsynpool_tls_handshake_duration_seconds_count 4\n'));
    const https = buildCell({ ...base, scenario: 'https-close', contender: 'accel', errors: 0, kind: 'synpool', counters, accelerated: true });
    expect(https.tlsHandshakeMeanMs).toBeCloseTo(75);
    const plain = buildCell({ ...base, contender: 'direct', errors: 0, kind: 'direct' });
    expect(plain.tlsHandshakeMeanMs).toBeNull();
    expect(formatResultsTable([plain])).not.toContain('TLS ms');
    expect(formatResultsTable([plain, https])).toContain('TLS ms');
    expect(formatResultsTable([plain, https])).toContain('75.0');
  });

  it('without pool counters the hit ratio comes from the request sources of an accelerated proxy', () => {
    const counters = counterDelta(readProxyCounters(''), readProxyCounters('synpool_request_duration_seconds_count{connection="pool"} 3\nsynpool_request_duration_seconds_count{connection="plain"} 1\n'));
    expect(buildCell({ ...base, contender: 'accel', errors: 0, kind: 'synpool', counters, accelerated: true }).poolHitRatio).toBe(0.75);
    expect(buildCell({ ...base, contender: 'no-accel', errors: 0, kind: 'synpool', counters, accelerated: false }).poolHitRatio).toBeNull();
  });

  it('the smallest pool size reaching the target', () => {
    const cell = (ratio: number | null) => ({ ...buildCell({ ...base, contender: 'accel', errors: 0, kind: 'synpool' }), poolHitRatio: ratio });
    const rows = [
      { poolSize: 8, cell: cell(1) },
      { poolSize: 1, cell: cell(0.5) },
      { poolSize: 4, cell: cell(0.995) },
      { poolSize: 2, cell: cell(null) },
    ];
    expect(smallestSufficientSize(rows)?.poolSize).toBe(4);
    expect(smallestSufficientSize(rows, 1)?.poolSize).toBe(8);
    expect(smallestSufficientSize(rows.slice(1, 2))).toBeUndefined();
  });
});

describe('markdown tables', () => {
  it('pads columns, right-aligns numbers, escapes pipes', () => {
    const t = formatMarkdownTable(
      [
        { header: 'name', cell: (r: { n: string; v: number }) => r.n },
        { header: 'value', align: 'right', cell: (r) => String(r.v) },
      ],
      [
        { n: 'a|b', v: 1 },
        { n: 'long name', v: 12345 },
      ],
    );
    expect(t.split('\n')).toEqual(['| name      | value |', '| --------- | ----: |', '| a\\|b      |     1 |', '| long name | 12345 |']);
  });

  it('number cells: fixed digits, a dash for nothing', () => {
    expect(fmt(1.234)).toBe('1.2');
    expect(fmt(null)).toBe('–');
    expect(fmt(Number.NaN)).toBe('–');
    expect(fmtPercent(0.991)).toBe('99.1 %');
    expect(fmtPercent(undefined)).toBe('–');
  });

  it('the results table has one row per cell and every column', () => {
    const cells = [
      buildCell({ rttMs: 10, scenario: 'burst', contender: 'direct', samplesMs: [1, 2], errors: 0, kind: 'direct' }),
      buildCell({ rttMs: 10, scenario: 'burst', contender: 'accel', samplesMs: [], errors: 2, kind: 'synpool', accelerated: false }),
    ];
    const lines = formatResultsTable(cells).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/RTT ms.*scenario.*contender.*p50 ms.*p90 ms.*p99 ms.*new conns.*pool hits.*SYN\/req.*CPU ms\/req/);
    expect(lines[3]).toContain('accel (no pool!)');
    expect(lines[3]).toContain('0 (+2 err)');
  });
});

describe('/proc/PID/stat', () => {
  it('utime + stime, also when comm has spaces and parentheses', () => {
    const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 11 0 12345 1000 100';
    expect(parseProcStatCpuTicks(stat)).toBe(300);
    expect(parseProcStatCpuTicks('garbage')).toBeUndefined();
    expect(parseProcStatSystemTicks(stat)).toBe(50);
    expect(parseProcStatSystemTicks('garbage')).toBeUndefined();
  });
});
