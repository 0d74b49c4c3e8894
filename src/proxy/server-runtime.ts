import { originOf, type UpstreamTarget } from '../config/load-config.js';
import type { Endpoint } from '../handshake/endpoint.js';
import type { PoolSettings } from '../pool/pool-config.js';
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
  /** The pool settings of the server's upstream, for addresses that appear later. */
  readonly poolSettings?: PoolSettings;
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

  constructor(options: ServerRuntimeOptions) {
    const { upstream, source } = options;
    this.upstream = upstream;
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
    this.#stop.push(followAddresses({ addresses, balancer, source, originOf: toOrigin, retireOrigin: options.retireOrigin, ...(options.poolSettings === undefined ? {} : { settings: options.poolSettings }) }));
    this.#stop.push(...(options.observe?.(addresses) ?? []));
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
