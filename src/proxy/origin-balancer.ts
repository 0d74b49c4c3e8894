import { endpointKey, type Endpoint } from '../handshake/endpoint.js';

/** Where the next request goes among an upstream's origins (one per resolved address). */
export interface OriginChooser {
  next(): string;
}

/** A chooser for an upstream with one fixed origin: no work per request. */
export function fixedOrigin(origin: string): OriginChooser {
  return { next: () => origin };
}

export interface OriginBalancerHooks {
  /** The undici origin of an address ("http://[fd00::2]:8080"). */
  originOf(endpoint: Endpoint): string;
  /** Idle keep-alive connections to an origin. Default: none. */
  idle?(origin: string): number;
  /** False for an address known not to answer (its pool is unreachable). Default: all usable. */
  usable?(endpoint: Endpoint): boolean;
}

interface Choice {
  readonly endpoint: Endpoint;
  readonly origin: string;
}

/**
 * Spreads requests over the addresses a name resolves to:
 * - keep-alive reuse first: starting at a round-robin cursor, the first
 *   usable origin with an idle keep-alive connection takes the request;
 * - else the first usable origin from the cursor (a new connection, from its
 *   pool); an address whose pool found it unreachable is passed over while
 *   another is usable, and tried again once its probe SYN is answered;
 * - when none is usable, plain rotation (a request must still try).
 * Against an upstream that closes its connections every request is new, so
 * they rotate over all addresses, IPv4 and IPv6 alike.
 */
export class OriginBalancer implements OriginChooser {
  #choices: readonly Choice[];
  #cursor = 0;
  readonly #hooks: Required<OriginBalancerHooks>;

  constructor(endpoints: readonly Endpoint[], hooks: OriginBalancerHooks) {
    if (endpoints.length === 0) throw new RangeError('an upstream needs at least one address');
    this.#hooks = { idle: () => 0, usable: () => true, ...hooks };
    this.#choices = this.#build(endpoints);
  }

  get origins(): readonly string[] {
    return this.#choices.map((c) => c.origin);
  }

  next(): string {
    const choices = this.#choices;
    const n = choices.length;
    const start = this.#cursor;
    this.#cursor = (start + 1) % n;
    if (n === 1) return choices[0]!.origin;
    const { idle, usable } = this.#hooks;
    let firstUsable: Choice | undefined;
    for (let i = 0; i < n; i++) {
      const choice = choices[(start + i) % n]!;
      if (!usable(choice.endpoint)) continue;
      if (idle(choice.origin) > 0) return choice.origin;
      firstUsable ??= choice;
    }
    return (firstUsable ?? choices[start]!).origin;
  }

  /** Idle keep-alive connections over every origin (no allocation: asked per request by server balancing). */
  idleConnections(): number {
    let n = 0;
    for (const choice of this.#choices) n += this.#hooks.idle(choice.origin);
    return n;
  }

  /** Replaces the addresses (a re-resolution); an empty set is refused, the old one stays. */
  set(endpoints: readonly Endpoint[]): void {
    if (endpoints.length === 0) return;
    this.#choices = this.#build(endpoints);
    this.#cursor %= endpoints.length;
  }

  #build(endpoints: readonly Endpoint[]): Choice[] {
    const seen = new Set<string>();
    const choices: Choice[] = [];
    for (const endpoint of endpoints) {
      const key = endpointKey(endpoint);
      if (seen.has(key)) continue;
      seen.add(key);
      choices.push({ endpoint, origin: this.#hooks.originOf(endpoint) });
    }
    return choices;
  }
}
