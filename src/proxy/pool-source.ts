import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { SynpoolError } from '../errors.js';
import { checkCapabilities } from '../handshake/capabilities.js';
import { parseEndpoint, type Endpoint } from '../handshake/endpoint.js';
import { Handshaker } from '../handshake/handshaker.js';
import { PoolManager, type EntryRef } from '../pool/pool-manager.js';
import type { PoolSettings } from '../pool/pool-config.js';
import type { ConnectionSource } from './connection-source.js';

export interface PoolSourceEvents {
  /** A pooled connection was handed off; `us` is what the request waited for it. */
  handoff: [info: { target: Endpoint; us: number }];
}

/** The accelerated ConnectionSource: a Handshaker (raw SYNs, TCP_REPAIR) under a PoolManager. */
export class PoolConnectionSource extends EventEmitter<PoolSourceEvents> implements ConnectionSource {
  readonly accelerated = true;
  readonly pool: PoolManager;
  readonly handshaker: Handshaker;
  /** The settings a target added later gets (those of the configured upstream). */
  #settings: PoolSettings;

  constructor(handshaker: Handshaker, pool: PoolManager, settings: PoolSettings = {}) {
    super();
    this.handshaker = handshaker;
    this.pool = pool;
    this.#settings = settings;
  }

  /**
   * A configured name now resolves to `target` as well: allowed on the raw
   * channel first (only configured targets, and what their names resolve
   * to, are ever sent a SYN), then given its own pool.
   */
  addTarget(target: Endpoint, settings: PoolSettings = this.#settings): void {
    this.handshaker.allow(target);
    this.pool.addUpstream({ ...settings, target });
  }

  /**
   * Makes the pools match `wanted` (by endpoint key): a missing target is allowed and
   * pooled; one whose settings changed is reconfigured (PoolManager.reconfigureUpstream:
   * a new share of its upstream's budget resizes the pool in place, keeping its entries
   * and what it learned; any other change restarts it); with `release`, a pooled target
   * not wanted any more is released (RSTs) and disallowed. A reload calls it twice:
   * without `release` before the new routes take requests (every new address has its
   * pool), with it afterwards. A re-resolution calls it without `release` for the
   * server's remaining addresses, whose share changed.
   */
  syncTargets(wanted: ReadonlyMap<string, { readonly target: Endpoint; readonly settings: PoolSettings }>, release: boolean): void {
    const current = new Map(this.pool.upstreams.map((c) => [c.key, c]));
    for (const [key, { target, settings }] of wanted) {
      if (current.has(key)) this.pool.reconfigureUpstream({ ...settings, target });
      else this.addTarget(target, settings);
    }
    if (!release) return;
    for (const [key, have] of current) if (!wanted.has(key)) this.removeTarget(have.target);
  }

  /**
   * Passive health ejected (true) or readmitted (false) the server `target` belongs to:
   * its pool stops or resumes sending SYNs (PoolManager.pause).
   */
  pauseTarget(target: Endpoint, paused: boolean): void {
    this.pool.pause(target, paused);
  }

  /** The name no longer resolves to `target`: its pool is released (RSTs) and the address leaves the allowlist. */
  removeTarget(target: Endpoint): void {
    this.pool.removeUpstream(target);
    this.handshaker.disallow(target);
  }

  acquire(target: Endpoint): Socket | undefined {
    const t0 = performance.now();
    const socket = this.pool.acquire(target);
    if (socket) this.emit('handoff', { target, us: (performance.now() - t0) * 1000 });
    return socket;
  }

  /** acquire() as a bare descriptor for the keeper to pass on (see PoolManager.acquireFd); the caller closes `fd`. */
  acquireFd(target: Endpoint): { fd: number; entry: EntryRef } | undefined {
    const t0 = performance.now();
    const got = this.pool.acquireFd(target);
    if (got) this.emit('handoff', { target, us: (performance.now() - t0) * 1000 });
    return got;
  }

  /** acquireFd() held (PoolManager.acquireHeldFd): the receiver opens it before its first byte, within `holdMs`. */
  acquireHeldFd(target: Endpoint): { fd: number; entry: EntryRef; holdMs: number } | undefined {
    const t0 = performance.now();
    const got = this.pool.acquireHeldFd(target);
    if (got) this.emit('handoff', { target, us: (performance.now() - t0) * 1000 });
    return got;
  }

  reachable(target: Endpoint): boolean {
    return this.pool.reachable(target) ?? true;
  }

  /** Pooled connections ready for `target` now (0 for a target without a pool). */
  readyCount(target: Endpoint): number {
    return this.pool.readyCount(target) ?? 0;
  }

  /** Requests for `target` that a keeper client sent plainly, told nothing was ready (PoolManager.noteMisses). */
  noteMisses(target: Endpoint, count: number): void {
    this.pool.noteMisses(target, count);
  }

  /** Starts sending SYNs (idempotent). */
  start(): void {
    this.pool.start();
  }

  close(): void {
    this.pool.close();
    this.handshaker.close();
  }
}

/** Why acceleration is off, for the one warning the proxy logs at start. */
export interface PlainFallback {
  readonly accelerated: false;
  readonly disabledReason: string;
  acquire(): undefined;
}

export interface CreatePoolSourceOptions {
  /**
   * Start the pool (send SYNs) at once. Default true, for library users; the
   * proxy passes false and calls source.start() once its listeners are bound.
   */
  start?: boolean;
}

/**
 * Builds the pool for the upstreams if this process may: CAP_NET_RAW,
 * CAP_NET_ADMIN and a kernel that takes TCP_REPAIR. Otherwise a plain source
 * that says what is missing (the proxy still serves, with plain connects).
 */
export function createPoolSource(
  given: readonly Endpoint[],
  settings: PoolSettings,
  options: CreatePoolSourceOptions = {},
): PoolConnectionSource | PlainFallback {
  // Canonical addresses (one spelling per IPv6 address), as the connector asks for them.
  const targets = given.map((t) => parseEndpoint(t.address, t.port));
  const caps = checkCapabilities();
  if (caps.missing.length > 0) return plainFallback(`missing ${caps.missing.join(', ')}`);
  let handshaker: Handshaker;
  try {
    handshaker = Handshaker.create({ targets });
  } catch (err) {
    if (err instanceof SynpoolError && (err.code === 'SYNPOOL_ERR_CAPABILITY' || err.code === 'SYNPOOL_ERR_SYSCALL')) {
      return plainFallback(err.message);
    }
    throw err;
  }
  const pool = new PoolManager({ driver: handshaker, upstreams: targets.map((target) => ({ ...settings, target })) });
  const source = new PoolConnectionSource(handshaker, pool, settings);
  if (options.start ?? true) source.start();
  return source;
}

function plainFallback(reason: string): PlainFallback {
  return Object.freeze({ accelerated: false as const, disabledReason: reason, acquire: () => undefined });
}
