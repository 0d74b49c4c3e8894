// Command line of the benchmark harness (`npm run bench`): parsed and checked
// once here, so the rest of the harness reads plain, validated options.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { intFlag } from '../int-flag.js';

/**
 * https-close: an HTTPS origin (nginx, TLS 1.3) that closes every connection; the client side stays plain HTTP.
 * ipv6-close: connection-close to an upstream reached over IPv6 (the topology gets ULA addresses beside its IPv4 ones).
 * https6-close: https-close with the origin reached over IPv6.
 * three-servers: connection-close to one upstream of three servers (synpool: --upstream × 3, round-robin; nginx: an upstream block).
 */
export const SCENARIOS = ['sequential-idle', 'connection-close', 'poisson', 'poisson-close', 'burst', 'https-close', 'ipv6-close', 'https6-close', 'three-servers'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/**
 * direct: no proxy; no-accel: keep-alive defeated; keepalive: warm reuse only; accel: pool + reuse;
 * nginx: nginx with an upstream keepalive pool; direct-open: no proxy, over client connections opened
 * beforehand (one round trip per request: the floor of any one-round-trip path); node-proxy: the
 * minimal node:http + undici proxy (bench/proxy/plain-proxy.ts), what the least Node proxy costs.
 */
export const CONTENDERS = ['direct', 'no-accel', 'keepalive', 'accel', 'nginx', 'direct-open', 'node-proxy'] as const;
export type ContenderName = (typeof CONTENDERS)[number];

export const UPSTREAM_SERVERS = ['node', 'nginx', 'python'] as const;
export type UpstreamServerKind = (typeof UPSTREAM_SERVERS)[number];

export const LINKS = ['auto', 'vde', 'netem'] as const;
export type LinkChoice = (typeof LINKS)[number];

export interface BenchOptions {
  mode: 'compare' | 'sweep' | 'help';
  quick: boolean;
  /** Round trips to emulate, ms; one topology each (one-way delay = rtt / 2). */
  rttsMs: number[];
  scenarios: ScenarioName[];
  contenders: ContenderName[];
  upstreamServer: UpstreamServerKind;
  link: LinkChoice;
  /** Pool size of the accelerated contender (--pool-size). */
  poolSize: number | 'demand';
  /** Sequential scenarios (sequential-idle, connection-close, https-close, ipv6-close, https6-close, three-servers): requests per contender. */
  requests: number;
  /** sequential-idle and burst: gap between two requests (bursts) of one contender, ms; wider than the upstream idle timeout. */
  idleGapMs: number;
  /** Upstream keep-alive timeout in the idle scenarios, ms. */
  upstreamIdleTimeoutMs: number;
  /** poisson: arrivals per second per contender. */
  ratePerSec: number;
  /** poisson: how long the arrivals run, ms. */
  durationMs: number;
  /** burst: simultaneous requests per burst. */
  burstSize: number;
  /** burst: bursts per contender. */
  bursts: number;
  /** sweep: pool sizes to try. */
  sweepSizes: number[];
  /** sweep: the workload run at every size. */
  sweepWorkload: ScenarioName;
  /** Seed of the Poisson schedules (reproducible arrivals). */
  seed: number;
  /** Where the JSON and SVG go. */
  outDir: string;
  chart: boolean;
  /** Another build's dist/src/cli.js: runs as one more accelerated contender, `accel <compareLabel>`, beside this build's. */
  compareCli: string | undefined;
  compareLabel: string;
  /** 0: GET / (3 bytes); N: GET /bytes/N from the node upstream (a response of several server flights). */
  responseBytes: number;
  /**
   * Compare mode: after the latency tables, run the proxy's own time and warm-path throughput
   * (bench/own-time/run.js; --quick with --quick). On for a full run; off when --scenarios,
   * --contenders or --compare-cli narrow the run, unless --own-time asks for it.
   */
  ownTime: boolean;
}

export class BenchUsageError extends Error {
  readonly code = 'BENCH_ERR_USAGE';
  override name = 'BenchUsageError';
}

export const BENCH_HELP = `synpool benchmark harness (run as root: it builds network namespaces)

Usage: node dist/bench/harness/main.js [flags]

  --quick                 smoke run (< 2 min): RTT 40 ms, direct/no-accel/accel, few requests
  --rtt LIST              round trips in ms, one topology each          (default 10,40,100)
  --scenarios LIST        ${SCENARIOS.join(',')}
                          (default: all; https-close always has an nginx TLS 1.3 origin, needs nginx and openssl;
                          ipv6-close adds ULA addresses to the topology and closes every connection over IPv6;
                          https6-close is https-close over IPv6; three-servers spreads connection-close over
                          three upstream servers: a pool per server, hit ratio and SYNs per request;
                          poisson-close is poisson against an upstream that closes every connection: every
                          request needs a new one, so accel's are pool-served)
  --contenders LIST       ${CONTENDERS.join(',')} (default: all; nginx only if /usr/sbin/nginx exists;
                          direct-open is the client itself over keep-alive connections it opened before the
                          burst or the run, to a keep-alive server of the same kind: one round trip per
                          request and no proxy, the floor of accel's one-round-trip path; plain http, IPv4,
                          one server, so not in https-close, ipv6-close, https6-close or three-servers;
                          node-proxy is the minimal node:http + undici proxy, keep-alive and plain connects,
                          no logging or metrics: what the least Node proxy costs (one server: not in
                          three-servers))
  --upstream-server KIND  ${UPSTREAM_SERVERS.join(', ')}                             (default node)
  --link KIND             auto (netem where the kernel has it, else vde), vde, netem (default auto)
  --pool-size N|demand    pool size of the accelerated synpool           (default 8; demand: synpool's default
                          demand sizing, which learns the rate and remembers bursts)
  --requests N            requests per contender, sequential scenarios   (default 20; quick 6)
  --idle-gap-ms N         gap between requests in sequential-idle/burst  (default 2500)
  --rate N                poisson arrivals per second per contender      (default 20)
  --duration S            poisson run time, seconds                      (default 15; quick 5)
  --burst N               simultaneous requests per burst                (default 32)
  --bursts N              bursts per contender                           (default 6; quick 2)
  --sweep pool-size       accelerated contender only, over --sweep-sizes; prints the smallest size with >= 99 % hits
  --sweep-sizes LIST      (default 1,2,4,8,16)
  --workload NAME         the sweep's workload                          (default poisson)
  --seed N                seed of the Poisson arrivals                   (default 1)
  --out DIR               JSON and SVG go here                           (default bench/results)
  --no-chart              skip the SVG chart
  --compare-cli FILE      another build's dist/src/cli.js (e.g. a worktree of main): one more accelerated
                          contender, interleaved with the others, named 'accel <label>'
  --compare-label LABEL   its label                                      (default before)
  --response-bytes N      GET /bytes/N instead of / (node upstream; not https-close): a response
                          bigger than the server's initial window of 10 segments (default 0: /)
  --own-time, --no-own-time
                          then the proxy's own time from packet captures and warm-path throughput with wrk
                          (npm run bench:own-time, --quick with --quick; its tables follow, its files are
                          DIR/own-time.json and .md): on by default, off when --scenarios, --contenders or
                          --compare-cli narrow the run (--own-time turns it back on)
  --help
`;

const DEFAULT_RTTS = [10, 40, 100];
/** node:http closes idle keep-alive connections this long after server.keepAliveTimeout, ms. */
export const NODE_KEEPALIVE_GRACE_MS = 1_000;
const QUICK_RTTS = [40];
const QUICK_CONTENDERS: ContenderName[] = ['direct', 'no-accel', 'accel'];

function intIn(flag: string, text: string, min: number, max: number): number {
  return intFlag(flag, text, min, max, (m) => new BenchUsageError(m));
}

function numberIn(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new BenchUsageError(`${flag} must be a number in ${min}…${max}, got '${text}'`);
  return n;
}

function intList(flag: string, text: string, min: number, max: number): number[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new BenchUsageError(`${flag} needs at least one value`);
  const values = parts.map((p) => intIn(flag, p, min, max));
  return [...new Set(values)];
}

function choiceList<T extends string>(flag: string, text: string, choices: readonly T[]): T[] {
  const parts = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new BenchUsageError(`${flag} needs at least one of ${choices.join(', ')}`);
  for (const p of parts) {
    if (!(choices as readonly string[]).includes(p)) throw new BenchUsageError(`${flag}: unknown '${p}'; choose from ${choices.join(', ')}`);
  }
  return [...new Set(parts as T[])];
}

function choice<T extends string>(flag: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) throw new BenchUsageError(`${flag}: unknown '${text}'; choose from ${choices.join(', ')}`);
  return text as T;
}

/** Parses argv (without node and the script). Throws BenchUsageError for anything unusable. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        quick: { type: 'boolean' },
        rtt: { type: 'string' },
        scenarios: { type: 'string' },
        contenders: { type: 'string' },
        'upstream-server': { type: 'string' },
        link: { type: 'string' },
        'pool-size': { type: 'string' },
        requests: { type: 'string' },
        'idle-gap-ms': { type: 'string' },
        rate: { type: 'string' },
        duration: { type: 'string' },
        burst: { type: 'string' },
        bursts: { type: 'string' },
        sweep: { type: 'string' },
        'sweep-sizes': { type: 'string' },
        workload: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'no-chart': { type: 'boolean' },
        'compare-cli': { type: 'string' },
        'compare-label': { type: 'string' },
        'response-bytes': { type: 'string' },
        'own-time': { type: 'boolean' },
        'no-own-time': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new BenchUsageError(`${(err as Error).message} (see --help)`);
  }
  const quick = values.quick === true;
  const sweep = values.sweep;
  if (sweep !== undefined && sweep !== 'pool-size') throw new BenchUsageError(`--sweep: only 'pool-size' is supported, got '${sweep}'`);
  const mode: BenchOptions['mode'] = values.help === true ? 'help' : sweep !== undefined ? 'sweep' : 'compare';

  if (values['own-time'] === true && values['no-own-time'] === true) throw new BenchUsageError('--own-time and --no-own-time: give one of them');
  const narrowed = values.scenarios !== undefined || values.contenders !== undefined || values['compare-cli'] !== undefined;
  const opts: BenchOptions = {
    mode,
    quick,
    rttsMs: values.rtt !== undefined ? intList('--rtt', values.rtt, 0, 2000) : quick || mode === 'sweep' ? [...QUICK_RTTS] : [...DEFAULT_RTTS],
    scenarios: values.scenarios !== undefined ? choiceList('--scenarios', values.scenarios, SCENARIOS) : [...SCENARIOS],
    contenders: values.contenders !== undefined ? choiceList('--contenders', values.contenders, CONTENDERS) : quick ? [...QUICK_CONTENDERS] : [...CONTENDERS],
    upstreamServer: values['upstream-server'] !== undefined ? choice('--upstream-server', values['upstream-server'], UPSTREAM_SERVERS) : 'node',
    link: values.link !== undefined ? choice('--link', values.link, LINKS) : 'auto',
    poolSize: values['pool-size'] === 'demand' ? 'demand' : values['pool-size'] !== undefined ? intIn('--pool-size', values['pool-size'], 1, 1024) : 8,
    requests: values.requests !== undefined ? intIn('--requests', values.requests, 1, 10_000) : quick ? 6 : 20,
    idleGapMs: values['idle-gap-ms'] !== undefined ? intIn('--idle-gap-ms', values['idle-gap-ms'], 100, 60_000) : 2_500,
    upstreamIdleTimeoutMs: 1_000,
    ratePerSec: values.rate !== undefined ? numberIn('--rate', values.rate, 0.1, 5_000) : 20,
    durationMs: (values.duration !== undefined ? numberIn('--duration', values.duration, 0.5, 600) : quick ? 5 : 15) * 1000,
    burstSize: values.burst !== undefined ? intIn('--burst', values.burst, 1, 1024) : 32,
    bursts: values.bursts !== undefined ? intIn('--bursts', values.bursts, 1, 1_000) : quick ? 2 : 6,
    sweepSizes: values['sweep-sizes'] !== undefined ? intList('--sweep-sizes', values['sweep-sizes'], 1, 1024) : [1, 2, 4, 8, 16],
    sweepWorkload: values.workload !== undefined ? choice('--workload', values.workload, SCENARIOS) : 'poisson',
    seed: values.seed !== undefined ? intIn('--seed', values.seed, 0, 2 ** 31 - 1) : 1,
    outDir: values.out ?? 'bench/results',
    chart: values['no-chart'] !== true,
    compareCli: values['compare-cli'],
    compareLabel: values['compare-label'] ?? 'before',
    responseBytes: values['response-bytes'] !== undefined ? intIn('--response-bytes', values['response-bytes'], 0, 100_000_000) : 0,
    ownTime: mode === 'compare' && (values['own-time'] === true || (values['no-own-time'] !== true && !narrowed)),
  };
  if (values['own-time'] === true && mode !== 'compare') throw new BenchUsageError('--own-time runs after a comparison, not with --sweep');
  if (opts.responseBytes > 0 && (opts.upstreamServer !== 'node' || opts.scenarios.includes('https-close'))) {
    // Only bench/upstream/http-server.mjs serves /bytes/N; https-close's origin is nginx.
    throw new BenchUsageError('--response-bytes needs --upstream-server node and no https-close scenario');
  }
  if (opts.compareCli !== undefined && !existsSync(opts.compareCli)) throw new BenchUsageError(`--compare-cli: ${opts.compareCli} not found (build that tree first)`);
  if (opts.compareCli !== undefined && !opts.contenders.includes('accel')) throw new BenchUsageError('--compare-cli runs beside the accel contender: add accel to --contenders');
  if (!/^[\w.-]{1,20}$/.test(opts.compareLabel)) throw new BenchUsageError(`--compare-label: letters, digits, '.', '-', '_' (at most 20), got '${opts.compareLabel}'`);
  // Node 20's server closes an idle connection about a second after keepAliveTimeout
  // (measured: timeout 1 000 ms → FIN at ~2 000 ms); clients that ignore the
  // Keep-Alive hint (nginx) reuse the connection until then.
  const closesAfterMs = opts.upstreamIdleTimeoutMs + NODE_KEEPALIVE_GRACE_MS;
  if (opts.idleGapMs <= closesAfterMs) {
    throw new BenchUsageError(`--idle-gap-ms must exceed the time the upstream really closes idle connections (${closesAfterMs} ms), got ${opts.idleGapMs}`);
  }
  return opts;
}
