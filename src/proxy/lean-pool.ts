import type { Socket } from 'node:net';
import { errors, type Dispatcher } from 'undici';
import type { Connector, ReadyTakeOpts } from './connector.js';
import { LeanConnection, LeanExchange, type LeanConnectionOwner } from './lean-connection.js';
import { kTrackedRequest, type TrackedRequest } from './tracking-client.js';

/** Dispatch options carry the request head the agent built (lean-request.ts) under this symbol. */
export const kLeanHead: unique symbol = Symbol('synpool.leanHead');

export interface LeanPoolOptions {
  /** New connections: pooled handshake first, then a plain connect (connector.ts). */
  connect: Connector;
  /** A pooled connection ready now (connector.ts, createReadyTake), taken before `connect`: no tick to wait. */
  takeReady?: (opts: ReadyTakeOpts) => Socket | undefined;
  /** An idle connection is closed after this (ms), or sooner when the server announced less. */
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** At most this many connections, connecting ones included; null = unbounded. */
  connections: number | null;
}

function abortConnecting(ex: LeanExchange): void {
  ex.error(ex.reason ?? new errors.RequestAbortedError());
}

/** What undici's Pool reports in `stats`, the part OriginPools reads. */
export interface PoolStats {
  free: number;
  connected: number;
  pending: number;
  running: number;
}

/**
 * One origin's connections for the lean exchange: what undici's Pool does for its
 * Clients, for requests whose head is already built. Keep-alive reuse first (the most
 * recently used connection, so the others age out), else a new connection while under
 * the cap, else the request waits in order for the next free one.
 */
export class LeanPool implements LeanConnectionOwner {
  readonly #o: LeanPoolOptions;
  readonly #connectOpts: { hostname: string; host: string; port: string; protocol: string; servername: null };
  readonly #all = new Set<LeanConnection>();
  readonly #idle: LeanConnection[] = [];
  readonly #idleTimers = new Map<LeanConnection, NodeJS.Timeout>();
  readonly #queue: LeanExchange[] = [];
  #connecting = 0;
  #closed = false;
  /** Set by destroy(): a connect still under way ends its request with it. */
  #destroyedWith: Error | undefined;
  #drained: (() => void) | undefined;

  constructor(origin: string, options: LeanPoolOptions) {
    this.#o = options;
    const url = new URL(origin);
    // undici hands the connector IPv6 hosts without their brackets.
    const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.#connectOpts = { hostname, host: url.host, port: url.port, protocol: url.protocol, servername: null };
  }

  get stats(): PoolStats {
    return { free: this.#idle.length, connected: this.#all.size, pending: this.#queue.length, running: this.#all.size - this.#idle.length };
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const o = this.#o;
    const head = (opts as { [kLeanHead]?: string })[kLeanHead];
    const tracked = (opts as { [kTrackedRequest]?: TrackedRequest })[kTrackedRequest];
    const ex = new LeanExchange(handler, head ?? '', opts.headersTimeout ?? o.headersTimeoutMs, opts.bodyTimeout ?? o.bodyTimeoutMs, tracked);
    if (this.#closed || head === undefined) {
      ex.error(this.#closed ? new errors.ClientClosedError() : new errors.InvalidArgumentError('lean dispatch without a request head'));
      return false;
    }
    this.#run(ex);
    return true;
  }

  #run(ex: LeanExchange): void {
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      clearTimeout(this.#idleTimers.get(idle));
      this.#idleTimers.delete(idle);
      idle.send(ex);
      return;
    }
    const cap = this.#o.connections;
    if (cap === null || this.#all.size + this.#connecting < cap) {
      this.#open(ex);
      return;
    }
    ex.onAbortQueued = this.#dequeue;
    this.#queue.push(ex);
  }

  readonly #dequeue = (ex: LeanExchange): void => {
    const i = this.#queue.indexOf(ex);
    if (i !== -1) this.#queue.splice(i, 1);
    ex.error(ex.reason ?? new errors.RequestAbortedError());
  };

  #open(ex: LeanExchange): void {
    const ready = this.#o.takeReady?.(this.#connectOpts);
    if (ready !== undefined) {
      this.#adopt(ex, ready);
      return;
    }
    this.#connecting += 1;
    // Aborted while connecting: answered at once; the connection, when it comes, goes idle.
    ex.onAbortQueued = abortConnecting;
    this.#o.connect(this.#connectOpts as never, (err: Error | null, socket: Socket | null) => {
      this.#connecting -= 1;
      ex.onAbortQueued = undefined;
      if (err !== null || socket === null) {
        ex.error(err ?? new errors.SocketError('no socket'));
        this.#next();
        this.#settleClose();
        return;
      }
      if (this.#destroyedWith !== undefined) {
        socket.destroy();
        ex.error(this.#destroyedWith);
        this.#settleClose();
        return;
      }
      this.#adopt(ex, socket);
    });
  }

  #adopt(ex: LeanExchange, socket: Socket): void {
    const connection = new LeanConnection(socket, this, this.#o.keepAliveTimeoutMs);
    this.#all.add(connection);
    if (ex.settled) {
      // No request to write: it idles, and an idle connection must see the server close it (or an error) too.
      connection.listen();
      this.released(connection);
    } else connection.send(ex);
  }

  released(connection: LeanConnection): void {
    const next = this.#queue.shift();
    if (next !== undefined) {
      next.onAbortQueued = undefined;
      connection.send(next);
      return;
    }
    if (this.#closed) {
      connection.destroy();
      return;
    }
    this.#idle.push(connection);
    const timer = setTimeout(() => connection.destroy(), connection.idleTimeoutMs);
    timer.unref();
    this.#idleTimers.set(connection, timer);
  }

  closed(connection: LeanConnection): void {
    this.#all.delete(connection);
    const timer = this.#idleTimers.get(connection);
    if (timer !== undefined) {
      clearTimeout(timer);
      this.#idleTimers.delete(connection);
      const i = this.#idle.indexOf(connection);
      if (i !== -1) this.#idle.splice(i, 1);
    }
    this.#next();
    this.#settleClose();
  }

  /** A connection went away or failed to open: a waiting request may open another. */
  #next(): void {
    const cap = this.#o.connections;
    if (this.#queue.length === 0 || (cap !== null && this.#all.size + this.#connecting >= cap)) return;
    this.#open(this.#queue.shift()!);
  }

  #settleClose(): void {
    if (this.#closed && this.#all.size === 0 && this.#connecting === 0 && this.#queue.length === 0) this.#drained?.();
  }

  /** Lets running and waiting requests finish; idle connections close now. */
  close(): Promise<void> {
    this.#closed = true;
    for (const c of [...this.#idle]) c.destroy();
    return new Promise<void>((resolve) => {
      this.#drained = resolve;
      this.#settleClose();
    });
  }

  /** Ends every request and connection now. */
  destroy(err?: Error | null): Promise<void> {
    this.#closed = true;
    const reason = err ?? new errors.ClientDestroyedError();
    this.#destroyedWith = reason;
    for (const ex of this.#queue.splice(0)) ex.error(reason);
    for (const c of [...this.#all]) c.fail(reason);
    return this.#connecting === 0 ? Promise.resolve() : this.close();
  }
}
