// The held connections a worker keeps per upstream address: handed over by the
// keeper ahead of any request (held-socket.ts: the server is not told until the
// first byte), so a request takes one without a round trip to the keeper. Pure
// bookkeeping with an injected clock; the caller opens, wraps and discards.
import type { Endpoint } from '../handshake/endpoint.js';
import { endpointKey } from '../handshake/endpoint.js';

/** One held connection: its descriptor (or libuv's handle of it) and until when it may wait. */
export interface Held<D> {
  readonly descriptor: D;
  readonly entry: number;
  readonly target: Endpoint;
  /** Clock ms after which it must not be used (the keeper's holdMs, minus the margin). */
  readonly until: number;
}

/** Given up this long before the keeper's deadline: the request must still reach the server in time. */
export const HOLD_MARGIN_MS = 20;

export class HeldStock<D> {
  readonly #byTarget = new Map<string, Held<D>[]>();
  readonly #now: () => number;
  readonly #discard: (held: Held<D>) => void;
  #size = 0;

  /** `discard` gives up a held connection (an aborting close: the server's application sees nothing). */
  constructor(now: () => number, discard: (held: Held<D>) => void) {
    this.#now = now;
    this.#discard = discard;
  }

  get size(): number {
    return this.#size;
  }

  count(target: Endpoint): number {
    return this.#byTarget.get(endpointKey(target))?.length ?? 0;
  }

  /** Keeps a connection the keeper said may wait `holdMs`; one already too old is discarded at once (returns false). */
  add(descriptor: D, entry: number, target: Endpoint, holdMs: number): boolean {
    const held: Held<D> = { descriptor, entry, target, until: this.#now() + holdMs - HOLD_MARGIN_MS };
    if (held.until <= this.#now()) {
      this.#discard(held);
      return false;
    }
    const key = endpointKey(target);
    let list = this.#byTarget.get(key);
    if (list === undefined) this.#byTarget.set(key, (list = []));
    // Sorted by deadline, latest last: take() uses the one with the least time left first.
    let i = list.length;
    while (i > 0 && list[i - 1]!.until > held.until) i--;
    list.splice(i, 0, held);
    this.#size += 1;
    return true;
  }

  /** The usable connection to `target` with the least time left (expired ones met on the way are discarded), or undefined. */
  take(target: Endpoint): Held<D> | undefined {
    const list = this.#byTarget.get(endpointKey(target));
    if (list === undefined) return undefined;
    this.#expireList(list, this.#now());
    const held = list.shift();
    if (held !== undefined) this.#size -= 1;
    return held;
  }

  /** Discards every expired connection; returns when the next one expires (Infinity: none held). */
  expire(): number {
    const now = this.#now();
    let next = Infinity;
    for (const list of this.#byTarget.values()) {
      this.#expireList(list, now);
      if (list.length > 0) next = Math.min(next, list[0]!.until);
    }
    return next;
  }

  /** Discards every connection to `target` (its address left the configuration); returns how many. */
  discardTarget(target: Endpoint): number {
    const key = endpointKey(target);
    const list = this.#byTarget.get(key);
    if (list === undefined) return 0;
    this.#byTarget.delete(key);
    this.#size -= list.length;
    for (const held of list) this.#discard(held);
    return list.length;
  }

  /** The addresses some connection is held for. */
  targets(): Endpoint[] {
    const out: Endpoint[] = [];
    for (const list of this.#byTarget.values()) if (list.length > 0) out.push(list[0]!.target);
    return out;
  }

  /** Discards everything (closing). */
  clear(): void {
    for (const list of this.#byTarget.values()) for (const held of list.splice(0)) this.#discard(held);
    this.#byTarget.clear();
    this.#size = 0;
  }

  #expireList(list: Held<D>[], now: number): void {
    while (list.length > 0 && list[0]!.until <= now) {
      this.#discard(list.shift()!);
      this.#size -= 1;
    }
  }
}
