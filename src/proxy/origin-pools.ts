import { Dispatcher, Pool, errors } from 'undici';
import { destroyArgs, settleAll } from './dispatcher-fanout.js';

/**
 * One undici Pool per origin, kept for the dispatcher's life: what undici's Agent does,
 * minus its eviction. undici 7's Agent closes an origin's Pool as soon as the Pool's last
 * connection closes (lib/dispatcher/agent.js, closeClientIfUnused), so against an upstream
 * that closes every connection (the case the half-open pool is for) every request built a
 * new Pool, TrackingClient and connector, on the cold path and in code the JIT had not
 * optimised yet. A proxy has one origin and a library user a few, so the Pools are kept;
 * each Pool still closes its idle connections after the keep-alive timeout. A library
 * user who talks to many origins does not grow this without bound: past KEPT_ORIGINS,
 * Pools with nothing connected, queued or running are closed when a new one is made.
 */
const KEPT_ORIGINS = 64;

/** What OriginPools needs of one origin's pool: undici's Pool, or the lean exchange's (lean-pool.ts). */
export interface OriginPool {
  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean;
  readonly stats: { free: number; connected: number; pending: number; running: number };
  close(): Promise<void>;
  destroy(err?: Error | null): Promise<void>;
}

export class OriginPools extends Dispatcher {
  readonly #create: (origin: string) => OriginPool;
  readonly #pools = new Map<string, OriginPool>();
  #closed = false;

  /** undici Pools with `options`, or the pools `create` makes. */
  constructor(options: Pool.Options | { create: (origin: string) => OriginPool }) {
    super();
    this.#create = 'create' in options ? options.create : (origin) => new Pool(origin, options);
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    try {
      if (this.#closed) throw new errors.ClientClosedError();
      const origin = opts.origin;
      if ((typeof origin !== 'string' || origin === '') && !(origin instanceof URL)) {
        throw new errors.InvalidArgumentError('opts.origin must be a non-empty string or URL.');
      }
      const key = String(origin);
      let pool = this.#pools.get(key);
      if (pool === undefined) {
        if (this.#pools.size >= KEPT_ORIGINS) this.#closeUnused();
        pool = this.#create(key);
        this.#pools.set(key, pool);
      }
      return pool.dispatch(opts, handler);
    } catch (err) {
      // As undici's dispatchers do: a dispatch that cannot start fails through the handler.
      if (typeof handler.onResponseError !== 'function') throw err;
      handler.onResponseError(null as unknown as Dispatcher.DispatchController, err as Error);
      return false;
    }
  }

  /** Connected and not busy: a request to this origin now would reuse a keep-alive connection. */
  idle(origin: string): number {
    return this.#pools.get(origin)?.stats.free ?? 0;
  }

  /**
   * The origin is gone (its address no longer resolves): its Pool closes
   * gracefully (running requests finish) and is forgotten; a later request
   * to it would build a new one.
   */
  retire(origin: string): Promise<void> {
    const pool = this.#pools.get(origin);
    if (pool === undefined) return Promise.resolve();
    this.#pools.delete(origin);
    return pool.close().catch(() => undefined);
  }

  /** Number of origins with a Pool (for tests). */
  get size(): number {
    return this.#pools.size;
  }

  #closeUnused(): void {
    for (const [key, pool] of this.#pools) {
      const s = pool.stats;
      if (s.connected === 0 && s.pending === 0 && s.running === 0) {
        this.#pools.delete(key);
        void pool.close().catch(() => undefined);
      }
    }
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    this.#closed = true;
    return settleAll([...this.#pools.values()].map((pool) => pool.close()), callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(a?: Error | null | (() => void), b?: () => void): Promise<void> | void {
    this.#closed = true;
    const { err, callback } = destroyArgs(a, b);
    return settleAll([...this.#pools.values()].map((pool) => pool.destroy(err)), callback);
  }
}
