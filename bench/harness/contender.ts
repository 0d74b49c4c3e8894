// A contender: what the load generator sends its requests to. direct is the
// upstream itself; the others are proxies started for one scenario and stopped
// after it, so every scenario starts from the same cold state.
import type { ContenderName, ScenarioName } from './bench-args.js';
import { startNginxProxy, startSynpool, type ProxyProcess } from './proxy-process.js';
import type { Target } from './timed-request.js';
import type { UpstreamSet, UpstreamVariant } from './upstream-set.js';
import type { Topology } from '../topology/index.js';

export interface Contender {
  /** The table's name: a ContenderName, or `accel pool=N` in a sweep. */
  readonly name: ContenderName | `accel pool=${number}`;
  readonly kind: 'direct' | 'synpool' | 'nginx';
  readonly target: Target;
  readonly proxy: ProxyProcess | undefined;
  readonly poolSize: number | undefined;
}

/**
 * Which upstream a contender talks to in a scenario. The idle and close
 * scenarios make every request need a new connection, whoever sends it; in
 * poisson only `no-accel` has its keep-alive defeated (Connection: close),
 * while `keepalive`, `accel` and nginx may keep connections warm.
 */
export function upstreamVariantFor(scenario: ScenarioName, contender: ContenderName): UpstreamVariant {
  switch (scenario) {
    case 'sequential-idle':
    case 'burst':
      return 'idle';
    case 'connection-close':
      return 'close';
    case 'poisson':
      return contender === 'no-accel' ? 'close' : 'warm';
  }
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
  /** The accelerated contender's pool size. */
  poolSize: number;
  /** The table's name (sweep: `accel pool=N`); default `name`. */
  label?: Contender['name'];
  /** Override the upstream variant (sweep). */
  variant?: UpstreamVariant;
}

export async function startContender(o: StartContenderOptions): Promise<Contender> {
  const upstream = await o.upstreams.get(o.variant ?? upstreamVariantFor(o.scenario, o.name));
  const name = o.label ?? o.name;
  const path = '/';
  switch (o.name) {
    case 'direct':
      return { name, kind: 'direct', target: { host: upstream.host, port: upstream.port, path }, proxy: undefined, poolSize: undefined };
    case 'no-accel':
    case 'keepalive':
    case 'accel': {
      const accel = o.name === 'accel';
      const port = o.ports.take();
      const proxy = await startSynpool(o.topo, {
        label: String(name),
        upstreamUrl: upstream.url,
        port,
        metricsPort: o.ports.take(),
        accel,
        poolSize: accel ? o.poolSize : undefined,
      });
      return { name, kind: 'synpool', target: { host: '127.0.0.1', port, path }, proxy, poolSize: accel ? o.poolSize : undefined };
    }
    case 'nginx': {
      const port = o.ports.take();
      const proxy = await startNginxProxy(o.topo, { label: 'nginx', upstreamHost: upstream.host, upstreamPort: upstream.port, port });
      return { name, kind: 'nginx', target: { host: '127.0.0.1', port, path }, proxy, poolSize: undefined };
    }
  }
}

/** Stops every proxy; never throws. */
export async function stopContenders(contenders: readonly Contender[]): Promise<void> {
  await Promise.all(contenders.map((c) => c.proxy?.stop().catch(() => undefined)));
}
