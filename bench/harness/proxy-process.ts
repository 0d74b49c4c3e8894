// The proxies under test, each a process in the client namespace: synpool
// (dist/src/cli.js) with the contender's flags, nginx with an upstream
// keep-alive pool, or the minimal node:http + undici proxy (the Node
// baseline). The harness thread has entered the client namespace, so
// 127.0.0.1 here is the client namespace's loopback.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { captureStderr, describeExit, hasExited, stopChild, waitForJsonLine } from '../topology/child-output.js';
import { childrenOf, signalQuietly } from '../topology/process-table.js';
import type { Topology } from '../topology/index.js';
import { nginxConfig } from '../upstream/nginx-config.js';
import { processCpuMs, processSystemCpuMs, processTreeCpuMs, processTreeSystemCpuMs, sumOver } from './proc-cpu.js';
import { readProxyCounters, readyWorkers, type ProxyCounters } from './prometheus-text.js';
import type { UpstreamTls } from './upstream-set.js';

/** Built CLI, next to this file in dist/: dist/bench/harness → dist/src/cli.js. */
export const SYNPOOL_CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
export const NGINX_BIN = '/usr/sbin/nginx';
/** The minimal node:http + undici proxy, built beside this file: dist/bench/harness → dist/bench/proxy. */
export const PLAIN_PROXY = fileURLToPath(new URL('../proxy/plain-proxy.js', import.meta.url));
/** From spawn to answering /readyz (synpool) or accepting (nginx), ms. */
const READY_DEADLINE_MS = 8_000;
/** What cli.ts logs when accel is on but no pool is wired in. */
const NO_POOL_WARNING = 'no connection pool is wired';

export interface ProxyProcess {
  readonly kind: 'synpool' | 'nginx' | 'node';
  readonly label: string;
  readonly port: number;
  readonly pid: number;
  /** synpool: did it start with a pool? (false when it logged that none is wired in); the others: null. */
  accelerated(): boolean | null;
  /** CPU (user + system) of the proxy's processes so far, ms. */
  cpuMs(): number | undefined;
  /** Of cpuMs, the kernel's part (system time), ms. */
  systemCpuMs(): number | undefined;
  /** synpool: one scrape of /metrics; the others: undefined. */
  counters(): Promise<ProxyCounters | undefined>;
  stop(): Promise<void>;
}

function httpGetText(port: number, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function waitReady(child: ChildProcess, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  for (let i = 0; i < 1_000; i++) {
    if (hasExited(child)) throw new Error(`${what} ${describeExit(child)} before it was ready`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) break;
    await sleep(25);
  }
  throw new Error(`${what} was not ready within ${READY_DEADLINE_MS} ms`);
}

export interface SynpoolProcessOptions {
  label: string;
  /** One URL, or several: the servers of one upstream (`--upstream` repeated). */
  upstreamUrl: string | readonly string[];
  port: number;
  metricsPort: number;
  accel: boolean;
  poolSize?: number;
  /** An https upstream: its CA goes to synpool as `tls.ca`, its name as `tls.servername` (a config file; there are no flags for them). */
  tls?: UpstreamTls | undefined;
  /** Another build's dist/src/cli.js (to compare builds in one run); default: this one. */
  cli?: string;
  /**
   * `--workers N|auto`: a supervisor, a keeper and N HTTP workers. Ready once /metrics
   * reports N workers serving (synpool_processes_ready{role="worker"}), not at the first
   * /readyz (one worker answers it while another may still be starting).
   */
  workers?: number | 'auto';
  /** More configuration keys (no flag for them), written to the config file beside `tls`. */
  config?: Readonly<Record<string, unknown>>;
}

let synpoolCounter = 0;

export async function startSynpool(topo: Topology, o: SynpoolProcessOptions): Promise<ProxyProcess> {
  const upstreams = (typeof o.upstreamUrl === 'string' ? [o.upstreamUrl] : o.upstreamUrl).flatMap((u) => ['--upstream', u]);
  const args = [o.cli ?? SYNPOOL_CLI, ...upstreams, '--listen', `127.0.0.1:${o.port}`, '--metrics-listen', `127.0.0.1:${o.metricsPort}`, '--log-level', 'warn'];
  if (!o.accel) args.push('--no-accel');
  if (o.poolSize !== undefined) args.push('--pool-size', String(o.poolSize));
  if (o.workers !== undefined) args.push('--workers', String(o.workers));
  if (o.tls !== undefined || o.config !== undefined) {
    const conf = join(topo.dir, `synpool-${process.pid}-${synpoolCounter++}.json`);
    writeFileSync(conf, JSON.stringify({ ...o.config, ...(o.tls === undefined ? {} : { tls: { ca: o.tls.caFile, servername: o.tls.servername } }) }));
    args.push('--config', conf);
  }
  const child = topo.spawn('client', process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  captureStderr(child);
  let stdoutTail = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => (stdoutTail = (stdoutTail + c).slice(-8192)));
  const what = `synpool ${o.label} (${args.slice(1).join(' ')})`;
  try {
    await waitReady(child, what, async () => (await httpGetText(o.metricsPort, '/readyz', 500)).status === 200);
    if (typeof o.workers === 'number') {
      const want = o.workers;
      await waitReady(child, `${what}: ${want} worker(s) serving`, async () => {
        const res = await httpGetText(o.metricsPort, '/metrics', 1_000);
        return res.status === 200 && (readyWorkers(res.body) ?? 0) >= want;
      });
    }
  } catch (err) {
    await stopChild(child, 2_000);
    if (err instanceof Error && stdoutTail.trim()) err.message += `; stdout: ${stdoutTail.trim().slice(-1000)}`;
    throw err;
  }
  const pid = child.pid!;
  return {
    kind: 'synpool',
    label: o.label,
    port: o.port,
    pid,
    accelerated: () => (o.accel ? !stdoutTail.includes(NO_POOL_WARNING) : false),
    // With --workers: the supervisor, the keeper and the workers (its direct children).
    cpuMs: () => processTreeCpuMs(pid),
    systemCpuMs: () => processTreeSystemCpuMs(pid),
    counters: async () => {
      const res = await httpGetText(o.metricsPort, '/metrics', 2_000);
      if (res.status !== 200) throw new Error(`${what}: /metrics answered ${res.status}`);
      return readProxyCounters(res.body);
    },
    stop: () => stopChild(child, 3_000),
  };
}

/**
 * To an https upstream: verified against the private CA and its name, SNI sent,
 * TLS sessions reused. nginx 1.22's default proxy_ssl_protocols leaves out TLSv1.3.
 */
function nginxProxySslDirectives(tls: UpstreamTls | undefined): string {
  if (tls === undefined) return '';
  return `
      proxy_ssl_protocols TLSv1.2 TLSv1.3;
      proxy_ssl_trusted_certificate ${tls.caFile};
      proxy_ssl_verify on;
      proxy_ssl_name ${tls.servername};
      proxy_ssl_server_name on;
      proxy_ssl_session_reuse on;`;
}

/** nginx as the reference reverse proxy: an upstream keep-alive pool, HTTP/1.1 to the upstream (https: see nginxProxySslDirectives). */
function nginxProxyConfig(prefix: string, port: number, servers: ReadonlyArray<{ host: string; port: number }>, tls: UpstreamTls | undefined, workers = 1, keepalive = 32): string {
  return nginxConfig(
    prefix,
    `  upstream backend {
${servers.map((s) => `    server ${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port};\n`).join('')}    keepalive ${keepalive};
  }
  server {
    listen 127.0.0.1:${port} backlog=511${workers > 1 ? ' reuseport' : ''};
    location / {
      proxy_pass ${tls === undefined ? 'http' : 'https'}://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";${nginxProxySslDirectives(tls)}
    }
  }`,
    4096,
    workers,
  );
}

let nginxCounter = 0;

export interface NginxProxyOptions {
  label: string;
  servers: ReadonlyArray<{ host: string; port: number }>;
  port: number;
  tls?: UpstreamTls | undefined;
  /**
   * worker_processes (default 1). Above 1 the listener gets `reuseport`: one socket and
   * accept queue per worker, connections spread by the kernel's hash, as synpool's
   * workers share the front port.
   */
  workers?: number;
  /** `keepalive` of the upstream block: idle upstream connections each worker keeps (default 32). */
  upstreamKeepalive?: number;
}

export async function startNginxProxy(topo: Topology, o: NginxProxyOptions): Promise<ProxyProcess> {
  const prefix = join(topo.dir, `nginx-proxy-${process.pid}-${nginxCounter++}`);
  for (const d of ['', 'tmp']) mkdirSync(join(prefix, d), { recursive: true, mode: 0o755 });
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxProxyConfig(prefix, o.port, o.servers, o.tls, o.workers ?? 1, o.upstreamKeepalive ?? 32));
  const child = topo.spawn('client', NGINX_BIN, ['-c', conf, '-p', prefix, '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  captureStderr(child);
  const master = child.pid!;
  let workers: number[] = [];
  const stop = async (): Promise<void> => {
    if (hasExited(child)) return;
    const all = childrenOf(master);
    await stopChild(child, 3_000, 'SIGQUIT');
    for (const w of all) signalQuietly(w, 'SIGKILL');
  };
  try {
    await waitReady(child, `nginx proxy (${conf})`, async () => (await httpGetText(o.port, '/', 1_000)).status > 0 && childrenOf(master).length >= (o.workers ?? 1));
    workers = childrenOf(master);
  } catch (err) {
    await stop();
    const log = existsSync(join(prefix, 'error.log')) ? readFileSync(join(prefix, 'error.log'), 'utf8').trim().slice(-1000) : '';
    if (log && err instanceof Error) err.message += `; error.log: ${log}`;
    throw err;
  }
  return {
    kind: 'nginx',
    label: o.label,
    port: o.port,
    pid: master,
    accelerated: () => null,
    // The workers found at start (not the master's children now): a worker nginx replaced is not counted.
    cpuMs: () => sumOver(workers, processCpuMs, processCpuMs(master)),
    systemCpuMs: () => sumOver(workers, processSystemCpuMs, processSystemCpuMs(master)),
    counters: () => Promise.resolve(undefined),
    stop,
  };
}

export interface NodeProxyOptions {
  label: string;
  upstreamUrl: string;
  port: number;
  /** An https upstream: its CA and name (`--ca`, `--servername` of plain-proxy.ts). */
  tls?: UpstreamTls | undefined;
}

/**
 * The minimal node:http + undici proxy (bench/proxy/plain-proxy.ts): a keep-alive
 * Pool, plain connects, no logging or metrics. Where synpool `--no-accel` stands
 * beside it, the difference is synpool's own features; where accel stands beside
 * it, the pool's gain over the least a Node proxy does.
 */
export async function startNodeProxy(topo: Topology, o: NodeProxyOptions): Promise<ProxyProcess> {
  const tls = o.tls === undefined ? [] : ['--ca', o.tls.caFile, '--servername', o.tls.servername];
  const args = [PLAIN_PROXY, '--upstream', o.upstreamUrl, '--listen', `127.0.0.1:${o.port}`, ...tls];
  const child = topo.spawn('client', process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForJsonLine<{ listening: number }>(child, READY_DEADLINE_MS, `node proxy ${o.label} (${args.slice(1).join(' ')})`);
  } catch (err) {
    await stopChild(child, 2_000);
    throw err;
  }
  child.stdout?.resume();
  const pid = child.pid!;
  return {
    kind: 'node',
    label: o.label,
    port: o.port,
    pid,
    accelerated: () => null,
    cpuMs: () => processCpuMs(pid),
    systemCpuMs: () => processSystemCpuMs(pid),
    counters: () => Promise.resolve(undefined),
    stop: () => stopChild(child, 2_000),
  };
}
