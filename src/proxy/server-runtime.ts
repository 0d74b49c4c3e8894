import { originOf, type UpstreamTarget } from '../config/load-config.js';
import type { Endpoint } from '../handshake/endpoint.js';
import type { PoolSettings } from '../pool/pool-config.js';
import { splitPoolSettings } from '../pool/pool-split.js';
import type { AddressLookup } from '../resolve/address-lookup.js';
import { UpstreamAddresses } from '../resolve/upstream-addresses.js';
import { followAddresses } from './address-follower.js';
import type { ConnectionSource } from './connection-source.js';
import { fixedOrigin, OriginBalancer, type OriginChooser } from './origin-balancer.js';

export interface ServerRuntimeOptions {
  readonly upstream: UpstreamTarget;
  /** Re-resolution interval of a name (resolveIntervalMs). */
  readonly intervalMs: number;
  readonly lookup: AddressLookup;
  readonly source: ConnectionSource;
  /** Idle keep-alive connections to an origin (the current agent's). */
  readonly idle: (origin: string) => number;
  /** Closes an origin's connections once their requests finish (the current agent's). */
  readonly retireOrigin: (origin: string) => Promise<void>;
  /** Subscribes the log and metrics to a name's address set; returns what unsubscribes. */
  readonly observe?: (addresses: UpstreamAddresses) => Array<() => void>;
  /**
   * The pool settings of the server's upstream (its whole budget), for addresses that
   * appear later; each address gets its share (poolShare()).
   */
  readonly poolSettings?: PoolSettings;
  /** How many servers the upstream has (the budget's split); 1 when not given. */
  readonly servers?: number;
}

/**
 * One server (an upstream URL) while it serves: which origin each request to it
 * goes to and, for a name, the address set that is kept resolved and followed
 * by the pools (src/resolve/, address-follower.ts). A reload that changes the
 * server builds a new runtime and closes the old one; the pools of addresses
 * both share are kept.
 */
export class ServerRuntime {
  readonly upstream: UpstreamTarget;
  readonly origins: OriginChooser;
  readonly addresses: UpstreamAddresses | undefined;
  readonly #stop: Array<() => void> = [];
  readonly #idle: (origin: string) => number;
  readonly #balancer: OriginBalancer | undefined;
  #poolSettings: PoolSettings | undefined;
  #servers: number;

  constructor(options: ServerRuntimeOptions) {
    const { upstream, source } = options;
    this.upstream = upstream;
    this.#poolSettings = options.poolSettings;
    this.#servers = options.servers ?? 1;
    this.#idle = options.idle;
    if (!upstream.resolvable) {
      this.origins = fixedOrigin(upstream.origin);
      this.addresses = undefined;
      this.#balancer = undefined;
      return;
    }
    // A name is followed: its addresses share the requests and each has a pool.
    const addresses = new UpstreamAddresses({
      hostname: upstream.hostname,
      port: upstream.port,
      initial: upstream.endpoints,
      lookup: options.lookup,
      intervalMs: options.intervalMs,
    });
    const toOrigin = (e: Endpoint): string => originOf(upstream.protocol, e);
    const balancer = new OriginBalancer(upstream.endpoints, {
      originOf: toOrigin,
      idle: options.idle,
      usable: (e) => source.reachable?.(e) ?? true,
    });
    this.addresses = addresses;
    this.origins = balancer;
    this.#balancer = balancer;
    this.#stop.push(followAddresses({ addresses, balancer, source, originOf: toOrigin, retireOrigin: options.retireOrigin, ...(options.poolSettings === undefined ? {} : { settings: (current: readonly Endpoint[]) => this.poolShare(current.length)! }) }));
    this.#stop.push(...(options.observe?.(addresses) ?? []));
  }

  /**
   * A reload kept this runtime (same URL, same pool settings) but its upstream may have
   * another number of servers now: the share of each address changes with it. The caller
   * applies it to the pools (wantedPools + syncTargets).
   */
  setPoolBudget(settings: PoolSettings, servers: number): void {
    this.#poolSettings = settings;
    this.#servers = servers;
  }

  /**
   * The pool settings each of this server's addresses gets: the upstream's budget split
   * by the address's share of demand (src/pool/pool-split.ts); undefined without settings.
   */
  poolShare(addresses: number = this.endpoints.length): PoolSettings | undefined {
    return this.#poolSettings === undefined ? undefined : splitPoolSettings(this.#poolSettings, this.#servers, addresses);
  }

  /** Idle keep-alive connections over all of this server's origins: keep-alive reuse first, across servers too. */
  idleConnections(): number {
    return this.#balancer === undefined ? this.#idle(this.upstream.origin) : this.#balancer.idleConnections();
  }

  /** The addresses in use now: the name's current resolution, or the literal's one address. */
  get endpoints(): readonly Endpoint[] {
    return this.addresses?.current ?? this.upstream.endpoints;
  }

  originOf(endpoint: Endpoint): string {
    return originOf(this.upstream.protocol, endpoint);
  }

  /** Starts re-resolving a name (after the listeners are bound). */
  start(): void {
    this.addresses?.start();
  }

  /** Stops re-resolving and following; the pools are the caller's. Idempotent. */
  close(): void {
    this.addresses?.close();
    for (const stop of this.#stop.splice(0)) stop();
  }
}
