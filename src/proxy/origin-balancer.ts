/** Where the next request goes among an upstream's origins (one per resolved address). */
export interface OriginChooser {
  next(): string;
}

/** A chooser for an upstream with one fixed origin: no work per request. */
export function fixedOrigin(origin: string): OriginChooser {
  return { next: () => origin };
}

/**
 * Spreads requests over the addresses a name resolves to, keep-alive reuse
 * first: starting at a round-robin cursor, the first origin with an idle
 * keep-alive connection takes the request; when none has one, the cursor's
 * origin does (a new connection, from its pool). Against an upstream that
 * closes its connections every request is new, so they rotate over all
 * addresses, IPv4 and IPv6 alike; with warm keep-alive connections they
 * stay where a connection is ready.
 */
export class OriginBalancer implements OriginChooser {
  #origins: readonly string[];
  #cursor = 0;
  readonly #idle: (origin: string) => number;

  constructor(origins: readonly string[], idle: (origin: string) => number = () => 0) {
    if (origins.length === 0) throw new RangeError('an upstream needs at least one origin');
    this.#origins = [...origins];
    this.#idle = idle;
  }

  get origins(): readonly string[] {
    return this.#origins;
  }

  next(): string {
    const origins = this.#origins;
    const n = origins.length;
    const start = this.#cursor;
    this.#cursor = (start + 1) % n;
    if (n === 1) return origins[0]!;
    for (let i = 0; i < n; i++) {
      const origin = origins[(start + i) % n]!;
      if (this.#idle(origin) > 0) return origin;
    }
    return origins[start]!;
  }

  /** Replaces the set (a re-resolution); an empty set is refused, the old one stays. */
  set(origins: readonly string[]): void {
    if (origins.length === 0) return;
    this.#origins = [...origins];
    this.#cursor %= origins.length;
  }
}
