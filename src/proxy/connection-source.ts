import type { Socket } from 'node:net';
import type { Endpoint } from '../handshake/endpoint.js';
import type { PoolSettings } from '../pool/pool-config.js';

/** The seam to the pool: where a new upstream connection may come from before a plain connect. */
export interface ConnectionSource {
  /**
   * A connected socket from the half-open pool for this upstream, or undefined (pool empty /
   * acceleration off). Synchronous. A source that also has acquireAsync returns here only a
   * socket it has ready now (the keeper source: its held stock) and never asks anyone.
   */
  acquire(target: Endpoint): Socket | undefined;
  /**
   * Optional: the asynchronous form, for a source in another process (the keeper,
   * src/keeper/keeper-source.ts). When present the connector uses it instead of
   * acquire(); the lean pool tries acquire() first (connector.ts, createReadyTake).
   * `callback` gets a connected socket or undefined (connect plainly);
   * it is called exactly once and never before acquireAsync returns.
   */
  acquireAsync?(target: Endpoint, callback: (socket: Socket | undefined) => void): void;
  /**
   * Optional: begin work that reaches the upstream (the pool's SYNs). The proxy
   * calls it once its listeners are bound, so a process that cannot serve never
   * sends a SYN. Must be idempotent.
   */
  start?(): void;
  /** Optional: false when the source knows the target does not answer (its pool is 'unreachable'). */
  reachable?(target: Endpoint): boolean;
  /** Optional: the upstream's name now also resolves to `target` (pool it; allow it on the raw channel first). */
  addTarget?(target: Endpoint, settings?: PoolSettings): void;
  /** Optional: the name no longer resolves to `target` (release its pool; disallow it). */
  removeTarget?(target: Endpoint): void;
  /**
   * Optional: make the pools exactly these targets with these settings (a reload, the
   * start); `release` also drops targets not listed. See PoolConnectionSource.syncTargets.
   */
  syncTargets?(wanted: ReadonlyMap<string, { readonly target: Endpoint; readonly settings: PoolSettings }>, release: boolean): void;
  /**
   * Optional: passive health ejected (true) or readmitted (false) the server `target`
   * belongs to. A pooling source stops opening entries toward it while paused (no SYN
   * to a server the proxy considers down) and resumes when it is back.
   */
  pauseTarget?(target: Endpoint, paused: boolean): void;
  /** Optional: release everything (called once at shutdown). */
  close?(): void | Promise<void>;
  readonly accelerated: boolean;
}

/** Where the connection that carried a request came from. */
export type ConnectionOrigin = 'reused' | 'pool' | 'plain';

/** A source that never has a pooled socket: every new connection is a plain connect. */
export const plainConnectionSource: ConnectionSource = Object.freeze({
  accelerated: false,
  acquire: () => undefined,
});
