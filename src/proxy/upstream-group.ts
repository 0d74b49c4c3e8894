import type { UpstreamTarget } from '../config/load-config.js';
import type { UpstreamGroupConfig } from '../config/upstream-groups.js';
import { createBalancingPolicy, type BalancingPolicy } from '../routing/balancing-policy.js';
import { healthVerdict } from '../routing/health-verdict.js';
import type { PassiveHealth } from '../routing/passive-health.js';
import type { ServerState } from '../routing/server-state.js';
import type { ServerRuntime } from './server-runtime.js';

/** One server of an upstream as its balancing policy sees it (ServerState), live. */
export class ServerSlot implements ServerState {
  /** The server's URL: unique across upstreams (a server belongs to one). */
  readonly key: string;
  inFlight = 0;

  constructor(
    readonly upstream: string,
    readonly runtime: ServerRuntime,
    /** undefined for the only server of its upstream: never ejected (there is nowhere else to go). */
    readonly health: PassiveHealth | undefined,
  ) {
    this.key = runtime.upstream.url;
  }

  get idle(): number {
    return this.runtime.idleConnections();
  }

  get available(): boolean {
    return this.health?.isAvailable(this.key) ?? true;
  }

  get probing(): boolean {
    return this.health?.state(this.key) === 'probing';
  }
}

/**
 * One request's server, from the pick to the end of the exchange: counts it in
 * flight (least-requests reads that) and reports its outcome to passive health.
 */
export class ServerDispatch {
  readonly origin: string;
  readonly #ticket: number;
  #done = false;

  constructor(readonly slot: ServerSlot) {
    this.origin = slot.runtime.origins.next();
    slot.inFlight += 1;
    this.#ticket = slot.health?.dispatched(slot.key) ?? 0;
  }

  /** The server as an upstream target: its URL, Host header, TLS name. */
  get upstream(): UpstreamTarget {
    return this.slot.runtime.upstream;
  }

  /**
   * The exchange is over. `error`: what the upstream exchange failed with (undefined: a
   * response came, whatever its status: the server is alive). A client that went away
   * says nothing about the server.
   */
  finished(error: unknown, clientGone = false): void {
    if (this.#done) return;
    this.#done = true;
    this.slot.inFlight -= 1;
    const health = this.slot.health;
    if (health === undefined) return;
    if (clientGone) health.abandoned(this.slot.key, this.#ticket);
    else if (error === undefined) health.succeeded(this.slot.key, this.#ticket);
    else if (healthVerdict(error) === 'failed') health.failed(this.slot.key, this.#ticket);
    else health.abandoned(this.slot.key, this.#ticket);
  }
}

/**
 * A named upstream: its servers and the policy that spreads requests over them. Like
 * nginx, an upstream with a single server never ejects it: there is nowhere else to
 * send its requests, and a 503 for the ejection's length would only add failures.
 */
export class UpstreamGroup {
  readonly policy: BalancingPolicy;
  readonly servers: readonly ServerSlot[];

  constructor(
    readonly name: string,
    readonly config: UpstreamGroupConfig,
    runtimes: readonly ServerRuntime[],
    health: PassiveHealth,
  ) {
    this.policy = createBalancingPolicy(config.balance);
    const watched = runtimes.length > 1 ? health : undefined;
    this.servers = runtimes.map((r) => new ServerSlot(name, r, watched));
  }

  /** The server for the next request, or undefined when every server is ejected. */
  pick(): ServerDispatch | undefined {
    const slot = this.servers.length === 1 ? this.servers[0] : (this.policy.pick(this.servers) as ServerSlot | undefined);
    return slot === undefined ? undefined : new ServerDispatch(slot);
  }

  /** Another server than `failed` for the same request (its connect failed), or undefined. */
  pickOther(failed: ServerSlot): ServerDispatch | undefined {
    const others = this.servers.filter((s) => s !== failed);
    const slot = others.length === 0 ? undefined : (this.policy.pick(others) as ServerSlot | undefined);
    return slot === undefined ? undefined : new ServerDispatch(slot);
  }

  /** Ready to serve: at least one server not ejected. */
  get ready(): boolean {
    return this.servers.some((s) => s.available);
  }
}
