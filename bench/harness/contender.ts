// A contender: what the load generator sends its requests to. direct is the
// upstream itself; the others are proxies started for one scenario and stopped
// after it, so every scenario starts from the same cold state.
import { readFileSync } from 'node:fs';
import { Agent } from 'undici';
import type { ContenderName, ScenarioName } from './bench-args.js';
import { directOpenContender } from './direct-open.js';
import { startNginxProxy, startNodeProxy, startSynpool, type ProxyProcess } from './proxy-process.js';
import type { Target } from './timed-request.js';
import type { RunningUpstream, UpstreamSet, UpstreamVariant } from './upstream-set.js';
import type { Topology } from '../topology/index.js';

export interface Contender {
  /** The table's name: a ContenderName, `accel pool=N` in a sweep, `accel LABEL` for another build (--compare-cli). */
  readonly name: ContenderName | `accel pool=${number}` | `accel ${string}`;
  readonly kind: 'direct' | 'synpool' | 'nginx' | 'node';
  readonly target: Target;
  readonly proxy: ProxyProcess | undefined;
  /** Ready entries to wait for before a scenario: the fixed pool size, 1 under demand sizing; undefined without a pool. */
  readonly poolSize: number | undefined;
  /** direct to an https upstream: connections its Agent opened so far. */
  readonly connectionsOpened?: () => number;
  /** Releases what the contender holds besides a proxy (the direct https Agent). */
  readonly close?: () => Promise<void>;
  /** direct-open: have at least this many connections open before the next requests. */
  readonly prepare?: (connections: number) => Promise<void>;
}

/**
 * Which upstream a contender talks to in a scenario. The idle and close
 * scenarios make every request need a new connection, whoever sends it; in
 * poisson only `no-accel` has its keep-alive defeated (Connection: close),
 * while `keepalive`, `accel`, nginx and node-proxy may keep connections warm.
 */
export function upstreamVariantFor(scenario: ScenarioName, contender: ContenderName): UpstreamVariant {
  // A closing server, or one that forgets idle connections after 1 s, cannot be reached over open
  // connections (node's Agent does not reuse a connection whose server says Keep-Alive: timeout=1):
  // direct-open's server is the same kind, keeping them.
  if (contender === 'direct-open') return 'warm';
  switch (scenario) {
    case 'sequential-idle':
    case 'burst':
      return 'idle';
    case 'connection-close':
    case 'poisson-close':
      return 'close';
    case 'ipv6-close':
      return 'close6';
    case 'poisson':
      return contender === 'no-accel' ? 'close' : 'warm';
    case 'https-close':
      return 'tls-close';
    case 'https6-close':
      return 'tls-close6';
    case 'three-servers':
      return 'close3';
  }
}

/**
 * The contenders that run a scenario. In https-close the origin closes every
 * connection (so does ipv6-close's), so `keepalive` would be `no-accel` again: it is left out.
 * direct-open speaks plain http to one IPv4 server: not in the https, IPv6 or three-server scenarios.
 * node-proxy has one upstream server: not in three-servers.
 */
export function contendersFor(scenario: ScenarioName, names: readonly ContenderName[]): ContenderName[] {
  const closing: readonly ScenarioName[] = ['poisson-close', 'https-close', 'ipv6-close', 'https6-close', 'three-servers'];
  const noOpen: readonly ScenarioName[] = ['https-close', 'ipv6-close', 'https6-close', 'three-servers'];
  return names.filter(
    (n) =>
      !(n === 'keepalive' && closing.includes(scenario)) &&
      !(n === 'direct-open' && noOpen.includes(scenario)) &&
      !(n === 'node-proxy' && scenario === 'three-servers'),
  );
}

/**
 * The direct contender of an https upstream: one undici Agent for the whole
 * scenario, trusting the private CA and sending its name as SNI. It keeps TLS
 * sessions like the proxies do; the origin closes every connection, so each
 * request still opens a new one (counted from the Agent's 'connect' events).
 */
function directHttps(name: Contender['name'], upstream: RunningUpstream & { tls: NonNullable<RunningUpstream['tls']> }, path: string): Contender {
  const agent = new Agent({ connect: { ca: readFileSync(upstream.tls.caFile), servername: upstream.tls.servername } });
  let opened = 0;
  agent.on('connect', () => opened++);
  return {
    name,
    kind: 'direct',
    target: { host: upstream.host, port: upstream.port, path, https: agent },
    proxy: undefined,
    poolSize: undefined,
    connectionsOpened: () => opened,
    close: () => agent.destroy(),
  };
}

/** Ports in the client namespace, fresh per topology. */
export class PortAllocator {
  private next: number;
  constructor(first = 20_000) {
    this.next = first;
  }
  take(): number {
    if (this.next > 60_000) throw new RangeError('out of ports in the client namespace');
    return this.next++;
  }
}

export interface StartContenderOptions {
  topo: Topology;
  upstreams: UpstreamSet;
  ports: PortAllocator;
  scenario: ScenarioName;
  name: ContenderName;
  /** The accelerated contender's pool size, or 'demand' (synpool's own demand sizing). */
  poolSize: number | 'demand';
  /** The table's name (sweep: `accel pool=N`); default `name`. */
  label?: Contender['name'];
  /** Override the upstream variant (sweep). */
  variant?: UpstreamVariant;
  /** Another build's dist/src/cli.js for a synpool contender (--compare-cli). */
  cli?: string;
  /** --response-bytes: GET /bytes/N instead of /. */
  responseBytes?: number;
}

export async function startContender(o: StartContenderOptions): Promise<Contender> {
  const upstream = await o.upstreams.get(o.variant ?? upstreamVariantFor(o.scenario, o.name));
  const name = o.label ?? o.name;
  const path = o.responseBytes !== undefined && o.responseBytes > 0 ? `/bytes/${o.responseBytes}` : '/';
  switch (o.name) {
    case 'direct':
      if (upstream.tls !== undefined) return directHttps(name, { ...upstream, tls: upstream.tls }, path);
      return { name, kind: 'direct', target: { host: upstream.host, port: upstream.port, path }, proxy: undefined, poolSize: undefined };
    case 'direct-open':
      return directOpenContender(name, upstream, path);
    case 'no-accel':
    case 'keepalive':
    case 'accel': {
      const accel = o.name === 'accel';
      const port = o.ports.take();
      const proxy = await startSynpool(o.topo, {
        label: String(name),
        upstreamUrl: upstream.servers?.map((s) => s.url) ?? upstream.url,
        port,
        metricsPort: o.ports.take(),
        accel,
        poolSize: accel && o.poolSize !== 'demand' ? o.poolSize : undefined,
        tls: upstream.tls,
        cli: o.cli,
      });
      const waitFor = o.poolSize === 'demand' ? 1 : o.poolSize;
      return { name, kind: 'synpool', target: { host: '127.0.0.1', port, path }, proxy, poolSize: accel ? waitFor : undefined };
    }
    case 'nginx': {
      const port = o.ports.take();
      const servers = upstream.servers ?? [{ host: upstream.host, port: upstream.port }];
      const proxy = await startNginxProxy(o.topo, { label: 'nginx', servers, port, tls: upstream.tls });
      return { name, kind: 'nginx', target: { host: '127.0.0.1', port, path }, proxy, poolSize: undefined };
    }
    case 'node-proxy': {
      const port = o.ports.take();
      const proxy = await startNodeProxy(o.topo, { label: 'node-proxy', upstreamUrl: upstream.url, port, tls: upstream.tls });
      return { name, kind: 'node', target: { host: '127.0.0.1', port, path }, proxy, poolSize: undefined };
    }
  }
}

/** Stops every proxy; never throws. */
export async function stopContenders(contenders: readonly Contender[]): Promise<void> {
  await Promise.all(contenders.map((c) => Promise.all([c.proxy?.stop().catch(() => undefined), c.close?.().catch(() => undefined)])));
}
