import { describe, expect, it } from 'vitest';
import { ownTimeArgs, runOwnTimePart } from '../../bench/harness/own-time-part.js';
import { BENCH_HELP, BenchUsageError, CONTENDERS, SCENARIOS, parseBenchArgs } from '../../bench/harness/bench-args.js';

describe('bench harness arguments', () => {
  it('defaults: three RTTs, every scenario and contender, node upstream, pool size 8', () => {
    const o = parseBenchArgs([]);
    expect(o.mode).toBe('compare');
    expect(o.rttsMs).toEqual([10, 40, 100]);
    expect(o.scenarios).toEqual([...SCENARIOS]);
    expect(o.contenders).toEqual([...CONTENDERS]);
    expect(o.upstreamServer).toBe('node');
    expect(o.poolSize).toBe(8);
    expect(o.ratePerSec).toBe(20);
    expect(o.burstSize).toBe(32);
    expect(o.idleGapMs).toBeGreaterThan(o.upstreamIdleTimeoutMs);
    expect(o.outDir).toBe('bench/results');
    expect(o.chart).toBe(true);
  });

  it('poisson-close: Poisson arrivals against an upstream that closes every connection', () => {
    expect(SCENARIOS).toContain('poisson-close');
    expect(parseBenchArgs(['--scenarios', 'poisson-close', '--rate', '10']).scenarios).toEqual(['poisson-close']);
    expect(BENCH_HELP).toContain('poisson-close is poisson');
  });

  it('--pool-size demand: synpool with its own demand sizing (which remembers bursts)', () => {
    expect(parseBenchArgs(['--pool-size', 'demand']).poolSize).toBe('demand');
    expect(parseBenchArgs(['--pool-size', '32']).poolSize).toBe(32);
    expect(BENCH_HELP).toContain('--pool-size N|demand');
  });

  it('the scenarios include https-close, and --scenarios takes it', () => {
    expect(SCENARIOS).toContain('https-close');
    expect(parseBenchArgs(['--scenarios', 'https-close']).scenarios).toEqual(['https-close']);
    expect(parseBenchArgs(['--scenarios', 'connection-close,https-close,https-close']).scenarios).toEqual(['connection-close', 'https-close']);
    expect(parseBenchArgs(['--sweep', 'pool-size', '--workload', 'https-close']).sweepWorkload).toBe('https-close');
    expect(BENCH_HELP).toContain('https-close');
  });

  it('--quick: one RTT of 40 ms, direct/no-accel/accel, fewer requests, every scenario (https-close too)', () => {
    const o = parseBenchArgs(['--quick']);
    expect(o.quick).toBe(true);
    expect(o.scenarios).toEqual([...SCENARIOS]);
    expect(o.scenarios).toContain('https-close');
    expect(o.rttsMs).toEqual([40]);
    expect(o.contenders).toEqual(['direct', 'no-accel', 'accel']);
    expect(o.requests).toBeLessThan(parseBenchArgs([]).requests);
    expect(o.durationMs).toBeLessThan(parseBenchArgs([]).durationMs);
  });

  it('explicit flags win over --quick', () => {
    const o = parseBenchArgs(['--quick', '--rtt', '10', '--contenders', 'direct,nginx', '--requests', '3']);
    expect(o.rttsMs).toEqual([10]);
    expect(o.contenders).toEqual(['direct', 'nginx']);
    expect(o.requests).toBe(3);
  });

  it('parses lists, dropping blanks and duplicates', () => {
    const o = parseBenchArgs(['--rtt', '10, 40,,40', '--scenarios', 'poisson,burst', '--upstream-server', 'nginx', '--duration', '2.5']);
    expect(o.rttsMs).toEqual([10, 40]);
    expect(o.scenarios).toEqual(['poisson', 'burst']);
    expect(o.upstreamServer).toBe('nginx');
    expect(o.durationMs).toBe(2500);
  });

  it('--sweep pool-size: sizes, workload, one RTT by default', () => {
    const o = parseBenchArgs(['--sweep', 'pool-size', '--sweep-sizes', '1,2,4']);
    expect(o.mode).toBe('sweep');
    expect(o.sweepSizes).toEqual([1, 2, 4]);
    expect(o.sweepWorkload).toBe('poisson');
    expect(o.rttsMs).toEqual([40]);
  });

  it.each([
    [['--rtt', 'abc']],
    [['--rtt', '']],
    [['--rtt', '-5']],
    [['--pool-size', '0']],
    [['--pool-size', '1.5']],
    [['--rate', '0']],
    [['--scenarios', 'poisson,nope']],
    [['--scenarios', 'https']],
    [['--scenarios', 'HTTPS-close']],
    [['--contenders', 'haproxy']],
    [['--upstream-server', 'apache']],
    [['--sweep', 'rate']],
    [['--idle-gap-ms', '900']],
    [['--idle-gap-ms', '1500']],
    [['--unknown']],
    [['positional']],
  ])('rejects %j with a usage error', (argv) => {
    expect(() => parseBenchArgs(argv)).toThrow(BenchUsageError);
  });

  it('--help mode; the help text names every flag', () => {
    expect(parseBenchArgs(['--help']).mode).toBe('help');
    for (const flag of ['--quick', '--rtt', '--upstream-server', '--pool-size', '--rate', '--burst', '--sweep', '--sweep-sizes', '--no-chart', '--compare-cli', '--compare-label', '--own-time', '--no-own-time']) {
      expect(BENCH_HELP).toContain(flag);
    }
  });

  it('--compare-cli: another build beside accel, labelled; refused when missing, without accel, or with an odd label', () => {
    const cli = process.execPath; // any existing file stands in for a built cli.js
    expect(parseBenchArgs([]).compareCli).toBeUndefined();
    const o = parseBenchArgs(['--compare-cli', cli, '--contenders', 'accel,direct']);
    expect(o.compareCli).toBe(cli);
    expect(o.compareLabel).toBe('before');
    expect(parseBenchArgs(['--compare-cli', cli, '--compare-label', 'main']).compareLabel).toBe('main');
    expect(() => parseBenchArgs(['--compare-cli', '/nonexistent/cli.js'])).toThrow(/not found/);
    expect(() => parseBenchArgs(['--compare-cli', cli, '--contenders', 'direct'])).toThrow(/accel/);
    expect(() => parseBenchArgs(['--compare-cli', cli, '--compare-label', 'a b'])).toThrow(BenchUsageError);
  });

  it('--response-bytes: GET /bytes/N from the node upstream; refused for other upstreams and https-close', () => {
    expect(parseBenchArgs([]).responseBytes).toBe(0);
    expect(parseBenchArgs(['--response-bytes', '61440', '--scenarios', 'sequential-idle']).responseBytes).toBe(61_440);
    expect(BENCH_HELP).toContain('--response-bytes');
    expect(() => parseBenchArgs(['--response-bytes', '-1'])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(['--response-bytes', '1000', '--upstream-server', 'nginx', '--scenarios', 'connection-close'])).toThrow(/node/);
    expect(() => parseBenchArgs(['--response-bytes', '1000'])).toThrow(/https-close/);
  });

  it('--own-time: a full run ends with the own-time bench; a narrowed one only when asked; never with --sweep', () => {
    expect(parseBenchArgs([]).ownTime).toBe(true);
    expect(parseBenchArgs(['--quick']).ownTime).toBe(true);
    expect(parseBenchArgs(['--rtt', '40']).ownTime).toBe(true);
    expect(parseBenchArgs(['--scenarios', 'burst']).ownTime).toBe(false);
    expect(parseBenchArgs(['--contenders', 'direct,accel']).ownTime).toBe(false);
    expect(parseBenchArgs(['--scenarios', 'burst', '--own-time']).ownTime).toBe(true);
    expect(parseBenchArgs(['--no-own-time']).ownTime).toBe(false);
    expect(parseBenchArgs(['--sweep', 'pool-size']).ownTime).toBe(false);
    expect(() => parseBenchArgs(['--own-time', '--no-own-time'])).toThrow(/give one of them/);
    expect(() => parseBenchArgs(['--sweep', 'pool-size', '--own-time'])).toThrow(/--sweep/);
  });

  it('the own-time part writes beside the harness results, quick with --quick', () => {
    expect(ownTimeArgs(parseBenchArgs([]))).toEqual(['--out', 'bench/results/own-time.json']);
    expect(ownTimeArgs(parseBenchArgs(['--quick', '--out', '/tmp/r']))).toEqual(['--quick', '--out', '/tmp/r/own-time-quick.json']);
  });

  it('an interrupted run does not start the own-time part', async () => {
    const stopped = new AbortController();
    stopped.abort();
    expect(await runOwnTimePart(parseBenchArgs([]), stopped.signal)).toBe(130);
  });
});
