import { describe, expect, it } from 'vitest';
import { parseProcStatChildTicks, parseProcStatMachine, processLabel } from '../../bench/harness/proc-cpu.js';
import { readProxyCounters, readyWorkers } from '../../bench/harness/prometheus-text.js';
import { throughputTable } from '../../bench/own-time/own-time-report.js';
import { cpuByProcessSummary, cpuSummary, machinePercent, recordDelta, sumRecords, type ThroughputRound, type ThroughputRow } from '../../bench/own-time/throughput-run.js';
import { nginxConfig } from '../../bench/upstream/nginx-config.js';
import { WorkersUsageError, parseWorkersArgs } from '../../bench/workers/workers-args.js';
import { WORKERS_TARGET_RATIO, contenderName, cpuByProcessLines, ratio, requestSourceLines, workersTable, workersVerdicts } from '../../bench/workers/workers-report.js';

const round = (requestsPerSec: number, extra: Partial<ThroughputRound> = {}): ThroughputRound => ({
  requestsPerSec,
  requests: requestsPerSec * 10,
  seconds: 10,
  p50Ms: 1,
  p99Ms: 5,
  errors: 0,
  ...extra,
});

const row = (contender: string, medianRps: number, extra: Partial<ThroughputRow> = {}): ThroughputRow => ({
  contender,
  rounds: [round(medianRps)],
  bestRps: medianRps,
  medianRps,
  p50Ms: 1,
  p99Ms: 5,
  errors: 0,
  ...extra,
});

describe('parseWorkersArgs', () => {
  it('defaults: N = the cores (auto), wrk 10 s x 3 rounds, 64 connections, 1 thread, upstream with N workers', () => {
    expect(parseWorkersArgs([], 2)).toMatchObject({
      workers: 2,
      workersFlag: 'auto',
      upstreamWorkers: 2,
      seconds: 10,
      rounds: 3,
      connections: 64,
      threads: 1,
      warmupSeconds: 3,
      nginxKeepalive: 64,
      accel: true,
      quick: false,
      out: 'bench/results/workers.json',
    });
  });

  it('--quick: 2 s x 1 round, 1 s warm-up, its own result file', () => {
    expect(parseWorkersArgs(['--quick'], 4)).toMatchObject({ workers: 4, seconds: 2, rounds: 1, warmupSeconds: 1, out: 'bench/results/workers-quick.json' });
  });

  it('takes --workers N, --upstream-workers, --threads, --no-accel, --out', () => {
    const o = parseWorkersArgs(['--workers', '3', '--upstream-workers', '1', '--threads', '2', '--no-accel', '--out', '/tmp/w.json', '--seconds', '5', '--rounds', '2', '--connections', '16'], 2);
    expect(o).toMatchObject({ workers: 3, workersFlag: '3', upstreamWorkers: 1, threads: 2, accel: false, out: '/tmp/w.json', seconds: 5, rounds: 2, nginxKeepalive: 16 });
    expect(parseWorkersArgs(['--nginx-keepalive', '32'], 2).nginxKeepalive).toBe(32);
  });

  it('refuses N < 2 (1 worker is always measured), auto on one core, threads above connections, unknown flags', () => {
    expect(() => parseWorkersArgs(['--workers', '1'], 2)).toThrow(WorkersUsageError);
    expect(() => parseWorkersArgs([], 1)).toThrow(/auto is 1/);
    expect(() => parseWorkersArgs(['--threads', '8', '--connections', '4'], 2)).toThrow(/--threads/);
    expect(() => parseWorkersArgs(['--workers', 'many'], 2)).toThrow(WorkersUsageError);
    expect(() => parseWorkersArgs(['--bogus'], 2)).toThrow(WorkersUsageError);
  });
});

describe('workersVerdicts', () => {
  const rows = [row('synpool --workers 1', 5_000), row('synpool --workers 2', 9_000), row('nginx worker_processes 1', 15_000), row('nginx worker_processes 2', 20_000)];

  it('ratios against nginx with as many workers, scaling N/1, the 0.4 target', () => {
    const v = workersVerdicts(rows, 2);
    expect(v).toMatchObject({ ratioN: 0.45, ratio1: 0.333, synpoolScaling: 1.8, nginxScaling: 1.333, met: true, targetRatio: WORKERS_TARGET_RATIO });
    expect(v.lines[0]).toMatch(/= 0\.45 \(target ≥ 0\.4\): met$/);
    expect(v.lines[2]).toBe('scaling 2/1 workers: synpool 1.80×, nginx 1.33×');
  });

  it('MISSED below 0.4; not measured without rounds', () => {
    const low = rows.map((r) => (r.contender === 'synpool --workers 2' ? row(r.contender, 7_000) : r));
    expect(workersVerdicts(low, 2)).toMatchObject({ ratioN: 0.35, met: false });
    expect(workersVerdicts(low, 2).lines[0]).toMatch(/MISSED$/);
    const none = rows.map((r) => ({ ...r, rounds: [] }));
    expect(workersVerdicts(none, 2)).toMatchObject({ ratioN: undefined, met: undefined });
    expect(workersVerdicts(none, 2).lines[0]).toMatch(/not measured$/);
  });

  it('CPU per request ratio when both have it', () => {
    const withCpu = rows.map((r) => (r.contender.endsWith(' 2') ? { ...r, cpuUsPerRequest: r.contender.startsWith('synpool') ? 120 : 40 } : r));
    expect(workersVerdicts(withCpu, 2).cpuPerRequestRatioN).toBe(3);
  });

  it('names and ratio()', () => {
    expect(contenderName('synpoolN', 4)).toBe('synpool --workers 4');
    expect(contenderName('nginx1', 4)).toBe('nginx worker_processes 1');
    expect(ratio(1, 0)).toBeUndefined();
    expect(ratio(undefined, 2)).toBeUndefined();
    expect(ratio(1, 3)).toBe(0.333);
  });
});

describe('workers report lines', () => {
  it('table: CPU columns, – where not measured', () => {
    const t = workersTable([row('nginx worker_processes 1', 100, { cpuPercent: 55, cpuUsPerRequest: 40.04 }), row('x', 1)]);
    expect(t.split('\n')[0]).toMatch(/contender .*median req\/s .*CPU % of a core .*CPU µs\/req/);
    expect(t).toMatch(/\| +55 \| +40\.0 \|/);
    expect(t.split('\n')[3]).toMatch(/\| +– \| +– \|/);
  });

  it('CPU by process and requests by source', () => {
    const r = row('synpool --workers 2', 1, { cpuPercentByProcess: { main: 1, keeper: 2, 'worker 1': 60 }, requestsBySource: { reused: 990, plain: 10, pool: 0 } });
    expect(cpuByProcessLines([r, row('y', 1)])).toEqual(['synpool --workers 2: main 1 %, keeper 2 %, worker 1 60 %']);
    expect(requestSourceLines([r, row('y', 1)])).toEqual(['synpool --workers 2: 1000 requests; upstream connection reused 99.0 %, plain 1.0 %']);
  });
});

describe('own-time warm-path table', () => {
  it('CPU µs per request and the kernel part of it, – where not measured', () => {
    const t = throughputTable([row('synpool', 100, { cpuUsPerRequest: 86.84, systemUsPerRequest: 31.26 }), row('node:http floor', 1)]);
    expect(t.split('\n')[0]).toMatch(/contender .*errors \| CPU µs\/req \| of it kernel \|$/);
    expect(t.split('\n')[2]).toMatch(/\| +86\.8 \| +31\.3 \|$/);
    expect(t.split('\n')[3]).toMatch(/\| +– \| +– \|$/);
  });
});

describe('throughput CPU summaries', () => {
  it('cpuSummary: median % of a core and µs per request over the rounds with a reading', () => {
    const rounds = [
      round(1_000, { cpuMs: 5_000, systemCpuMs: 2_000, wallMs: 10_000 }),
      round(2_000, { cpuMs: 12_000, systemCpuMs: 3_000, wallMs: 10_000 }),
      round(3_000, { cpuMs: 6_000, wallMs: 10_000 }),
      round(9_999),
    ];
    // 50 %, 120 %, 60 % → 60; 500, 600, 200 µs/req → 500; the kernel's 200 and 150 µs/req (one round has no reading) → 175.
    expect(cpuSummary(rounds)).toEqual({ cpuPercent: 60, cpuUsPerRequest: 500, systemUsPerRequest: 175 });
    expect(cpuSummary([round(1)])).toEqual({ cpuPercent: undefined, cpuUsPerRequest: undefined, systemUsPerRequest: undefined });
  });

  it('recordDelta, sumRecords, cpuByProcessSummary', () => {
    expect(recordDelta({ a: 1, b: 5 }, { a: 4, b: 5, c: 2 })).toEqual({ a: 3, b: 0, c: 2 });
    expect(recordDelta(undefined, { a: 1 })).toBeUndefined();
    expect(sumRecords([{ a: 1 }, undefined, { a: 2, b: 1 }])).toEqual({ a: 3, b: 1 });
    expect(sumRecords([undefined])).toBeUndefined();
    const rounds = [round(1, { wallMs: 1_000, cpuByProcessMs: { main: 10, 'worker 1': 500 } }), round(1, { wallMs: 2_000, cpuByProcessMs: { main: 20, 'worker 1': 1_600 } }), round(1)];
    expect(cpuByProcessSummary(rounds)).toEqual({ main: 1, 'worker 1': 65 });
    expect(cpuByProcessSummary([round(1)])).toBeUndefined();
  });
});

describe('processLabel', () => {
  it("names synpool's children by their role argument, nginx's by its title", () => {
    expect(processLabel(['/usr/bin/node', '/work/dist/src/process/child.js', 'keeper', ''])).toBe('keeper');
    expect(processLabel(['node', '--enable-source-maps', '/x/child.js', 'worker', '2'])).toBe('worker 2');
    expect(processLabel(['/usr/local/bin/node', '/x/cli.js', '--upstream', 'http://a'])).toBe('cli.js');
    expect(processLabel(['nginx: worker process', '', ''])).toBe('nginx: worker process');
    expect(processLabel([''])).toBe('?');
  });
});

describe('synpool /metrics for workers', () => {
  const text = [
    '# HELP synpool_processes_ready Keeper and worker processes serving now',
    'synpool_processes_ready{role="keeper"} 1',
    'synpool_processes_ready{role="worker"} 2',
    'synpool_pool_ready{upstream="10.0.0.2:80"} 6',
    'synpool_acceleration_enabled 1',
  ].join('\n');

  it('readyWorkers: the workers serving; undefined without the metric', () => {
    expect(readyWorkers(text)).toBe(2);
    expect(readyWorkers('synpool_pool_ready 3\n')).toBeUndefined();
  });

  it("pool ready entries leave synpool_processes_ready out (every name starts with 'synpool'); acceleration read", () => {
    const c = readProxyCounters(text);
    expect(c.poolReady).toBe(6);
    expect(c.accelerationEnabled).toBe(1);
    expect(readProxyCounters('synpool_pool_ready 3\n').accelerationEnabled).toBeUndefined();
  });
});

describe('nginxConfig', () => {
  it('worker_processes: 1 by default, N when asked', () => {
    expect(nginxConfig('/p', '')).toMatch(/^worker_processes 1;$/m);
    expect(nginxConfig('/p', '', 1024, 2)).toMatch(/^worker_processes 2;$/m);
  });
});

describe('/proc readings for the load generator and the machine', () => {
  it('cutime + cstime of /proc/self/stat (comm with spaces and parentheses)', () => {
    const stat = '4242 (node (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 40 7 3 20 0 11 0 1000 0 0';
    expect(parseProcStatChildTicks(stat)).toBe(10);
    expect(parseProcStatChildTicks('garbage')).toBeUndefined();
  });

  it("/proc/stat's cpu line: busy leaves idle and iowait out; machinePercent over the cores", () => {
    const a = parseProcStatMachine('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5\n');
    expect(a).toEqual({ busy: 150, total: 1000 });
    const b = { busy: 150 + 300, total: 1000 + 400 };
    expect(machinePercent(a, b, 2)).toBe(150);
    expect(machinePercent(a, a, 2)).toBeUndefined();
    expect(parseProcStatMachine('intr 1 2 3\n')).toBeUndefined();
  });
});
