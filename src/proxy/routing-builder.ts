import type { UpstreamTarget } from '../config/load-config.js';
import type { SynpoolConfig } from '../config/schema.js';
import type { UpstreamGroupConfig } from '../config/upstream-groups.js';
import { passiveHealthSettings } from '../config/health-settings.js';
import { endpointKey, type Endpoint } from '../handshake/endpoint.js';
import type { PoolSettings } from '../pool/pool-config.js';
import type { PassiveHealth } from '../routing/passive-health.js';
import { compileRoutes } from '../routing/route-table.js';
import { RequestRouter } from './request-router.js';
import { ServerRuntime, type ServerRuntimeOptions } from './server-runtime.js';
import { UpstreamGroup } from './upstream-group.js';

/** What every server runtime shares: the resolver, the connection source, the current agent. */
export type RuntimeDeps = Omit<ServerRuntimeOptions, 'upstream' | 'intervalMs' | 'poolSettings' | 'servers'>;

export interface Routing {
  readonly router: RequestRouter;
  /** By runtimeKey: a reload reuses the runtimes whose key is unchanged. */
  readonly runtimes: ReadonlyMap<string, ServerRuntime>;
}

/**
 * A server's runtime is kept across a reload when its URL, its upstream's pool
 * settings and the re-resolution interval are unchanged: it keeps its addresses,
 * and its pools keep what they learned.
 */
export function runtimeKey(url: string, group: UpstreamGroupConfig, config: SynpoolConfig): string {
  return `${url}|${JSON.stringify(group.pool)}|${config.resolveIntervalMs}`;
}

/**
 * The routes, upstream groups and server runtimes of one configuration. `resolved`
 * has every server URL's target (resolveUpstream, once); `reuse` the previous
 * routing's runtimes (a reload).
 */
export function buildRouting(
  config: SynpoolConfig,
  resolved: ReadonlyMap<string, UpstreamTarget>,
  deps: RuntimeDeps,
  health: PassiveHealth,
  reuse: ReadonlyMap<string, ServerRuntime> = new Map(),
): Routing {
  const runtimes = new Map<string, ServerRuntime>();
  const groups = new Map<string, UpstreamGroup>();
  for (const [name, group] of Object.entries(config.upstreams) as [string, UpstreamGroupConfig][]) {
    // This upstream's passive health thresholds for each of its servers (a reload applies new ones here too).
    const thresholds = group.health === undefined ? undefined : passiveHealthSettings(group.health);
    const slots = group.servers.map((url) => {
      health.configure(url, thresholds);
      const key = runtimeKey(url, group, config);
      let runtime = reuse.get(key);
      if (runtime === undefined) {
        const upstream = resolved.get(url);
        if (upstream === undefined) throw new Error(`server ${url} was not resolved`);
        runtime = new ServerRuntime({ ...deps, upstream, intervalMs: config.resolveIntervalMs, poolSettings: group.pool as PoolSettings, servers: group.servers.length });
      } else {
        // Kept across a reload: the upstream may have gained or lost servers, and each address's share with them.
        runtime.setPoolBudget(group.pool as PoolSettings, group.servers.length);
      }
      runtimes.set(key, runtime);
      return runtime;
    });
    groups.set(name, new UpstreamGroup(name, group, slots, health));
  }
  const table = compileRoutes(config.routes, groups.keys());
  return { router: new RequestRouter(table, groups), runtimes };
}

/**
 * Every address the routing's servers use now, with its share of its upstream's pool
 * budget (ServerRuntime.poolShare, src/pool/pool-split.ts), for PoolConnectionSource.syncTargets.
 */
export function wantedPools(config: SynpoolConfig, routing: Routing): Map<string, { target: Endpoint; settings: PoolSettings }> {
  const wanted = new Map<string, { target: Endpoint; settings: PoolSettings }>();
  for (const group of Object.values(config.upstreams) as UpstreamGroupConfig[]) {
    for (const url of group.servers) {
      const runtime = routing.runtimes.get(runtimeKey(url, group, config));
      if (runtime === undefined) continue;
      const settings = runtime.poolShare() ?? (group.pool as PoolSettings);
      for (const target of runtime.endpoints) wanted.set(endpointKey(target), { target, settings });
    }
  }
  return wanted;
}

/** resolveUpstream for each server URL not already in `known` (a reload resolves only new servers). */
export async function resolveServers(
  config: SynpoolConfig,
  resolve: (url: string) => Promise<UpstreamTarget>,
  known: ReadonlyMap<string, UpstreamTarget> = new Map(),
): Promise<Map<string, UpstreamTarget>> {
  const out = new Map<string, UpstreamTarget>();
  for (const group of Object.values(config.upstreams) as UpstreamGroupConfig[]) {
    for (const url of group.servers) out.set(url, known.get(url) ?? (await resolve(url)));
  }
  return out;
}
