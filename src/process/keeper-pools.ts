// The keeper's side of the configuration: which addresses get a pool. The keeper
// resolves the configured servers itself and follows their names, exactly as the
// single-process proxy does (routing-builder), so what it sends SYNs to comes from
// the config and the resolver, never from a worker's say-so.
import { resolveUpstream, type UpstreamTarget } from '../config/load-config.js';
import type { SynpoolConfig } from '../config/schema.js';
import { diffConfig } from '../config/config-diff.js';
import type { Endpoint } from '../handshake/endpoint.js';
import type { ConnectionSource } from '../proxy/connection-source.js';
import { buildRouting, resolveServers, wantedPools, type Routing, type RuntimeDeps } from '../proxy/routing-builder.js';
import type { AddressLookup } from '../resolve/address-lookup.js';
import type { UpstreamAddresses } from '../resolve/upstream-addresses.js';
import { PassiveHealth } from '../routing/passive-health.js';

export class KeeperPools {
  #config: SynpoolConfig;
  #resolved: Map<string, UpstreamTarget>;
  #routing: Routing;
  readonly #source: ConnectionSource;
  readonly #deps: RuntimeDeps;
  readonly #lookup: AddressLookup;
  // The routing needs one; the keeper sees no request, so nothing ever ejects a server here.
  readonly #health = new PassiveHealth();

  private constructor(config: SynpoolConfig, resolved: Map<string, UpstreamTarget>, source: ConnectionSource, lookup: AddressLookup, observe: RuntimeDeps['observe']) {
    this.#config = config;
    this.#resolved = resolved;
    this.#source = source;
    this.#lookup = lookup;
    this.#deps = { lookup, source, idle: () => 0, retireOrigin: async () => undefined, ...(observe === undefined ? {} : { observe }) };
    this.#routing = buildRouting(config, resolved, this.#deps, this.#health);
    source.syncTargets?.(wantedPools(config, this.#routing), true);
  }

  /** Resolves every configured server (a name that does not resolve is a ConfigError) and pools its addresses. */
  static async create(config: SynpoolConfig, source: ConnectionSource, lookup: AddressLookup, observe?: (a: UpstreamAddresses) => Array<() => void>): Promise<KeeperPools> {
    const resolved = await resolveServers(config, (url) => resolveUpstream(url, lookup));
    return new KeeperPools(config, resolved, source, lookup, observe);
  }

  /** Starts following the configured names (after the keeper's socket is bound). */
  start(): void {
    for (const r of this.#routing.runtimes.values()) r.start();
  }

  /** Applies a new validated config's upstreams and pool settings; throws before changing anything when a new name does not resolve. */
  async reload(next: SynpoolConfig): Promise<void> {
    const diff = diffConfig(this.#config, next);
    if (!diff.effects.has('upstream') && !diff.effects.has('pool')) {
      this.#config = next;
      return;
    }
    const resolved = await resolveServers(next, (url) => resolveUpstream(url, this.#lookup), this.#resolved);
    const old = this.#routing;
    this.#routing = buildRouting(next, resolved, this.#deps, this.#health, old.runtimes);
    this.#source.syncTargets?.(wantedPools(next, this.#routing), true);
    const kept = new Set(this.#routing.runtimes.values());
    for (const r of old.runtimes.values()) if (!kept.has(r)) r.close();
    const before = new Set(old.runtimes.values());
    for (const r of this.#routing.runtimes.values()) if (!before.has(r)) r.start();
    this.#resolved = resolved;
    this.#config = next;
  }

  /**
   * The pooled addresses a client may ask for by `host` and `port`: a configured
   * server's address, or a configured server name's current addresses; undefined when
   * neither (the keeper answers UNKNOWN_TARGET).
   */
  targetsFor(host: string, port: number): Endpoint[] | undefined {
    const out: Endpoint[] = [];
    for (const r of this.#routing.runtimes.values()) {
      if (r.upstream.port !== port) continue;
      if (r.upstream.hostname === host) out.push(...r.endpoints);
      else out.push(...r.endpoints.filter((e) => e.address === host));
    }
    return out.length > 0 ? out : undefined;
  }

  close(): void {
    for (const r of this.#routing.runtimes.values()) r.close();
    this.#health.close();
  }
}
