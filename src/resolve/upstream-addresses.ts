import { EventEmitter } from 'node:events';
import { endpointKey, type Endpoint } from '../handshake/endpoint.js';
import { realClock, type Clock, type TimerHandle } from '../pool/clock.js';
import { usableEndpoints, type AddressLookup } from './address-lookup.js';

export interface AddressChange {
  readonly hostname: string;
  readonly added: readonly Endpoint[];
  readonly removed: readonly Endpoint[];
  readonly current: readonly Endpoint[];
}

export interface ResolveFailure {
  readonly hostname: string;
  /** The resolver's error code, or NO_USABLE_ADDRESS when it answered only with addresses the pool cannot use. */
  readonly error: string;
  /** What stays in use: the last good answer. */
  readonly kept: readonly Endpoint[];
}

export interface UpstreamAddressesEvents {
  change: [AddressChange];
  'resolve-failed': [ResolveFailure];
}

export interface UpstreamAddressesOptions {
  readonly hostname: string;
  readonly port: number;
  /** The answer at start (resolveUpstream's); never empty. */
  readonly initial: readonly Endpoint[];
  readonly lookup: AddressLookup;
  readonly intervalMs: number;
  readonly clock?: Clock;
}

/**
 * The addresses a configured name resolves to, kept current: re-resolved
 * every intervalMs, and a 'change' event with what came and went. A failed
 * or empty answer keeps the last good set (a resolver hiccup must not take
 * every address, and with them every pool, away); it is reported instead.
 */
export class UpstreamAddresses extends EventEmitter<UpstreamAddressesEvents> {
  readonly hostname: string;
  readonly #port: number;
  readonly #lookup: AddressLookup;
  readonly #intervalMs: number;
  readonly #clock: Clock;
  #current: readonly Endpoint[];
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #closed = false;

  constructor(options: UpstreamAddressesOptions) {
    super();
    this.hostname = options.hostname;
    this.#port = options.port;
    this.#lookup = options.lookup;
    this.#intervalMs = options.intervalMs;
    this.#clock = options.clock ?? realClock;
    this.#current = Object.freeze([...options.initial]);
  }

  get current(): readonly Endpoint[] {
    return this.#current;
  }

  /** Schedules re-resolution every intervalMs (timers do not keep the process alive). Idempotent. */
  start(): void {
    if (this.#closed || this.#timer !== undefined) return;
    this.#schedule();
  }

  /** Resolves now; concurrent calls share one lookup. */
  refresh(): Promise<void> {
    this.#running ??= this.#resolve().finally(() => (this.#running = undefined));
    return this.#running;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(() => {
      void this.refresh().finally(() => {
        if (!this.#closed) this.#schedule();
      });
    }, this.#intervalMs);
  }

  async #resolve(): Promise<void> {
    let answer: string | readonly string[];
    try {
      answer = await this.#lookup(this.hostname);
    } catch (err) {
      if (!this.#closed) this.#failed((err as NodeJS.ErrnoException).code ?? String(err));
      return;
    }
    if (this.#closed) return;
    const { endpoints } = usableEndpoints(answer, this.#port);
    if (endpoints.length === 0) {
      this.#failed('NO_USABLE_ADDRESS');
      return;
    }
    const before = new Map(this.#current.map((e) => [endpointKey(e), e]));
    const after = new Set(endpoints.map(endpointKey));
    const added = endpoints.filter((e) => !before.has(endpointKey(e)));
    const removed = [...before.values()].filter((e) => !after.has(endpointKey(e)));
    // Kept addresses stay in their old order; new ones go at the end.
    this.#current = Object.freeze([...this.#current.filter((e) => after.has(endpointKey(e))), ...added]);
    if (added.length > 0 || removed.length > 0) {
      this.emit('change', { hostname: this.hostname, added, removed, current: this.#current });
    }
  }

  #failed(error: string): void {
    this.emit('resolve-failed', { hostname: this.hostname, error, kept: this.#current });
  }
}
