import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { PooledConnectionResetError } from '../errors.js';
import type { HandshakeDriver } from '../handshake/driver.js';
import { endpointKey, type Endpoint } from '../handshake/endpoint.js';
import type { HalfOpen } from '../handshake/half-open.js';
import { realClock, type Clock } from './clock.js';
import { resolvePoolConfig, resolvePoolConfigs, type ResolvedPoolConfig, type UpstreamPoolConfig } from './pool-config.js';
import type { PoolEmit, PoolEvents, PoolSnapshot } from './pool-events.js';
import { UpstreamPool, type UpstreamPoolDeps } from './upstream-pool.js';

/** The fields reconfigureUpstream() applies without a restart (with the cap they imply). */
const RESIZABLE = ['targetSize', 'minSize', 'maxSize', 'cap'] as const;
/**
 * The longest a held handoff may wait: past its full window an entry is still usable, but
 * a socket held this long was not needed; its RST frees the server's entry.
 */
export const MAX_HOLD_MS = 10_000;

/** What reportDead() needs of an entry: a HalfOpen, or a RepairedSocket's `{ id: entryId, target }`. */
export type EntryRef = Pick<HalfOpen, 'id' | 'target'>;

export interface PoolManagerOptions {
  /** The kernel seam: sends SYNs, reports SYN-ACKs and RSTs, hands entries off. Owned by the caller (close() does not close it). */
  readonly driver: HandshakeDriver;
  /** Defaults to realClock (performance.now, unref()ed timers). */
  readonly clock?: Clock;
  /** Uniform in [0, 1) for refresh and backoff jitter; defaults to Math.random. */
  readonly random?: () => number;
  /** The only targets that will ever be sent a SYN. */
  readonly upstreams: readonly UpstreamPoolConfig[];
}

/**
 * The pools of all configured upstreams. Routes the driver's SYN-ACK and
 * RST events to the pool that opened the entry, and is the single place the
 * rest of the proxy asks for a pre-handshaked connection.
 */
export class PoolManager extends EventEmitter<PoolEvents> {
  private readonly driver: HandshakeDriver;
  private readonly deps: Omit<UpstreamPoolDeps, 'driver'>;
  private readonly pools = new Map<string, UpstreamPool>();
  private readonly owners = new Map<number, UpstreamPool>();
  /**
   * Keys paused by pause(), kept apart from the pools: a pool restarted with new
   * settings (reconfigureUpstream), or one added while its server is ejected, starts paused.
   */
  private readonly pausedKeys = new Set<string>();
  private started = false;
  private closed = false;

  private readonly onSynAck = (entry: HalfOpen, info: { retransmit: boolean; rttMs: number }): void => {
    this.owners.get(entry.id)?.onSynAck(entry, info);
  };
  private readonly onReset = (entry: HalfOpen): void => {
    this.owners.get(entry.id)?.onReset(entry);
  };

  /** Validates every upstream config (ConfigError naming the field); sends nothing until start(). */
  constructor(options: PoolManagerOptions) {
    super();
    this.driver = options.driver;
    const clock = options.clock ?? realClock;
    const random = options.random ?? Math.random;
    const emit: PoolEmit = (name, ...args) => {
      (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args);
    };
    this.deps = { clock, random, emit, owners: this.owners };
    for (const config of resolvePoolConfigs(options.upstreams)) {
      this.pools.set(config.key, new UpstreamPool(config, { driver: this.driver, ...this.deps }));
    }
  }

  /**
   * Adds a pool at run time (a name resolved to a new address); it starts
   * filling at once if the manager has started. Returns false, changing
   * nothing, when that target already has a pool or the manager is closed.
   * The caller allows the target on the driver first: only configured
   * targets are ever sent a SYN.
   */
  addUpstream(input: UpstreamPoolConfig): boolean {
    const config = resolvePoolConfig(input, 'upstream');
    if (this.closed || this.pools.has(config.key)) return false;
    const pool = new UpstreamPool(config, { driver: this.driver, ...this.deps });
    this.pools.set(config.key, pool);
    if (this.pausedKeys.has(config.key)) pool.setPaused(true);
    if (this.started) pool.start();
    return true;
  }

  /**
   * Applies new settings to a target's pool. When only the sizing fields differ
   * (targetSize, minSize, maxSize: an upstream's budget split anew), the pool is
   * resized in place and keeps its entries and what it learned ('resized'); any
   * other change restarts it: entries released (RSTs), a fresh pool with the new
   * settings, paused if the old one was ('restarted'). 'added' when the target had
   * no pool, 'unchanged' when nothing differs, 'closed' after close().
   */
  reconfigureUpstream(input: UpstreamPoolConfig): 'added' | 'unchanged' | 'resized' | 'restarted' | 'closed' {
    const config = resolvePoolConfig(input, 'upstream');
    if (this.closed) return 'closed';
    const pool = this.pools.get(config.key);
    if (pool === undefined) {
      this.addUpstream(input);
      return 'added';
    }
    const differs = (Object.keys(config) as (keyof ResolvedPoolConfig)[]).filter((k) => k !== 'target' && config[k] !== pool.config[k]);
    if (differs.length === 0) return 'unchanged';
    if (differs.every((k) => (RESIZABLE as readonly string[]).includes(k))) {
      pool.resize(config);
      return 'resized';
    }
    this.pools.delete(config.key);
    pool.close();
    this.addUpstream(input);
    return 'restarted';
  }

  /**
   * Pauses (true) or resumes (false) a target's pool: while paused it sends no SYN
   * (UpstreamPool.setPaused: ready entries are still handed out until their TTL).
   * Passive health pauses the pools of a server it ejected and resumes them when
   * the server is readmitted. Remembered for a target without a pool yet (it starts
   * paused) until resumed or removeUpstream(). Returns whether a pool changed state.
   */
  pause(target: Endpoint, paused: boolean): boolean {
    const key = endpointKey(target);
    if (paused) this.pausedKeys.add(key);
    else this.pausedKeys.delete(key);
    return this.pools.get(key)?.setPaused(paused) ?? false;
  }

  /** Whether the target's pool is paused (false without a pool). */
  isPaused(target: Endpoint): boolean {
    return this.pools.get(endpointKey(target))?.isPaused ?? false;
  }

  /**
   * Removes a target's pool (its address no longer resolves): every entry is
   * released (the driver sends the RSTs, so the server frees its request
   * sockets at once) and take() for it misses as 'unknown-upstream' from now
   * on. Sockets already handed out are the caller's and keep running.
   * Returns false when the target had no pool.
   */
  removeUpstream(target: Endpoint): boolean {
    const key = endpointKey(target);
    const pool = this.pools.get(key);
    // The address leaves: a later return of it is a new pool, whatever happened to this one.
    this.pausedKeys.delete(key);
    if (pool === undefined) return false;
    this.pools.delete(key);
    pool.close();
    return true;
  }

  /** The validated configuration of each upstream. */
  get upstreams(): ResolvedPoolConfig[] {
    return [...this.pools.values()].map((p) => p.config);
  }

  /** Subscribes to the driver and starts filling every pool. Idempotent; does nothing after close(). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.driver.on('synack', this.onSynAck);
    this.driver.on('reset', this.onReset);
    for (const pool of this.pools.values()) pool.start();
  }

  /**
   * An established entry for `target`, removed from the pool, or undefined
   * (the caller connects normally). The caller turns it into a socket with
   * driver.handoff(entry). Never opens anything for an unconfigured target.
   */
  take(target: Endpoint, youngest = false): HalfOpen | undefined {
    const key = endpointKey(target);
    const pool = this.pools.get(key);
    if (pool === undefined) {
      this.emit('miss', { upstream: key, reason: 'unknown-upstream' });
      return undefined;
    }
    if (this.closed || !this.started) {
      this.emit('miss', { upstream: key, reason: this.closed ? 'closed' : 'not-started' });
      return undefined;
    }
    return pool.take(true, youngest);
  }

  /**
   * `count` requests for `target` connected plainly without a take(), their client having
   * been told none was ready (readyCount): counted as misses, and as demand, as take()
   * on an empty pool counts them.
   */
  noteMisses(target: Endpoint, count: number): void {
    const key = endpointKey(target);
    const pool = this.pools.get(key);
    if (pool === undefined || this.closed || !this.started) {
      const reason = pool === undefined ? 'unknown-upstream' : this.closed ? 'closed' : 'not-started';
      for (let i = 0; i < count; i++) this.emit('miss', { upstream: key, reason });
      return;
    }
    pool.noteMisses(count);
  }

  /** Entries ready for `target` now; undefined for a target without a pool. Cheap. */
  readyCount(target: Endpoint): number | undefined {
    return this.pools.get(endpointKey(target))?.readyCount;
  }

  /**
   * take() + driver.handoff(). If the handoff throws, that entry is released
   * and counted (evicted: 'handoff-failed') and the next entry is tried once.
   * The socket reports itself: if it fails with a PooledConnectionResetError
   * (reset before the server acknowledged any byte), the entry is reported
   * dead; nothing else the connection meets feeds the pool.
   */
  acquire(target: Endpoint): Socket | undefined {
    return this.acquireWith(target, false, (entry) => {
      const socket = this.driver.handoff(entry);
      this.watchFirstUse(socket, entry);
      return socket;
    });
  }

  /**
   * acquire() as a bare descriptor the caller owns and passes to another process
   * (the keeper): nothing watches its first use here, so the receiver reports a
   * reset on first use back through reportDead(entry). Undefined also when the
   * driver cannot hand off descriptors (no handoffFd).
   */
  acquireFd(target: Endpoint): { fd: number; entry: EntryRef } | undefined {
    const handoffFd = this.driver.handoffFd?.bind(this.driver);
    if (handoffFd === undefined) return undefined;
    return this.acquireWith(target, false, (entry) => ({ fd: handoffFd(entry), entry: { id: entry.id, target: entry.target } }));
  }

  /**
   * acquireFd() held (held-socket.ts): the descriptor's filter drops the server's SYN-ACK
   * retransmits, so the server is told nothing before the first request byte, and `holdMs`
   * says how long it may wait for its first segment (the entry's TTL and, where the pool
   * watches it, its full initial window; at most MAX_HOLD_MS). Undefined when the pool is
   * empty, or the driver cannot hold.
   */
  acquireHeldFd(target: Endpoint): { fd: number; entry: EntryRef; holdMs: number } | undefined {
    const handoffFd = this.driver.handoffFd?.bind(this.driver);
    if (handoffFd === undefined) return undefined;
    return this.acquireWith(target, true, (entry) => {
      const fd = handoffFd(entry, true);
      const until = this.pools.get(endpointKey(target))?.usableUntilOf(entry.id) ?? this.deps.clock.now();
      return { fd, entry: { id: entry.id, target: entry.target }, holdMs: Math.max(0, Math.min(MAX_HOLD_MS, until - this.deps.clock.now())) };
    });
  }

  /** take() + `hand` (a handoff); a handoff that throws releases that entry (evicted: 'handoff-failed') and tries the next once. */
  private acquireWith<T>(target: Endpoint, youngest: boolean, hand: (entry: HalfOpen) => T): T | undefined {
    const pool = this.pools.get(endpointKey(target));
    let entry = this.take(target, youngest);
    for (let attempt = 0; entry !== undefined && pool !== undefined; attempt++) {
      try {
        return hand(entry);
      } catch {
        pool.handoffFailed(entry);
        entry = attempt === 0 && !this.closed ? pool.take(false, youngest) : undefined;
      }
    }
    return undefined;
  }

  /**
   * The first use of an entry taken with take() got a RST before the server
   * acknowledged any byte (SYNPOOL_ERR_POOLED_RESET): the server had
   * forgotten it. Feeds TTL learning with the entry's age, and evicts its
   * older siblings. acquire() does this by itself. Only that error may be
   * reported: a reset after the request was acknowledged is the
   * application's choice, and counting it would let clients steer the pool.
   * Returns false (and learns nothing) for an unknown upstream, an entry this
   * pool did not hand out recently, or one already reported.
   */
  reportDead(entry: EntryRef): boolean {
    const pool = this.pools.get(endpointKey(entry.target));
    if (pool === undefined || this.closed) return false;
    return pool.reportDead(entry.id);
  }

  private watchFirstUse(socket: Socket, entry: EntryRef): void {
    const onError = (err: unknown): void => {
      if (err instanceof PooledConnectionResetError) this.reportDead(entry);
    };
    socket.on('error', onError);
    socket.once('close', () => socket.off('error', onError));
  }

  /**
   * Whether the target answers SYNs, as far as its pool knows: false once it
   * is 'unreachable' (refused or silent SYNs in a row), until a probe SYN is
   * answered; undefined for a target without a pool. Cheap: asked per request
   * to steer requests away from a dead address of a name.
   */
  reachable(target: Endpoint): boolean | undefined {
    return this.pools.get(endpointKey(target))?.reachable;
  }

  /**
   * Inbound packets the driver's channel lost before it could read them
   * (a full receive buffer), a counter since the channel opened; undefined
   * when it cannot be read (a closed channel).
   */
  channelDrops(): number | undefined {
    try {
      return this.driver.channelDrops();
    } catch {
      return undefined;
    }
  }

  /** One plain snapshot per configured upstream, in configuration order. */
  snapshot(): PoolSnapshot[] {
    return [...this.pools.values()].map((p) => p.snapshot());
  }

  /** Releases every pooled entry (the driver sends the RSTs), stops the timers, unsubscribes. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.driver.off('synack', this.onSynAck);
    this.driver.off('reset', this.onReset);
    for (const pool of this.pools.values()) pool.close();
    this.owners.clear();
  }
}
